"""What the deployment files must agree on, derived from the code.

Every `*_problems` function returns a list of human-readable problems (empty: all good). The
expectations come from the code, not from a second hand-written list: the settings each service
reads (its pydantic Settings class), the port it serves /health, /ready and /metrics on, the
consumer groups and topics its subscribers use, the metrics it registers.
"""

import copy
import importlib
import importlib.metadata
import os
import re
import shlex
import tomllib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from unittest import mock

import yaml
from pydantic import AliasChoices, SecretStr

from statmuse_shared.contract import topics
from statmuse_shared.platform.settings import BaseServiceSettings

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("ingestor", "features", "trainer", "predictor", "gateway")
# Values for the variables docker-compose.yml requires (`${VAR:?}`); not placeholders.
COMPOSE_ENV = {"POSTGRES_PASSWORD": "Tq7-compose-check", "GRAFANA_ADMIN_PASSWORD": "Tq7-grafana"}
# Image ENV that is for the runtime, not for the service's settings.
RUNTIME_ENV = frozenset({"PATH", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "MPLCONFIGDIR"})
# Metrics that are not registered in this repository's code.
EXTERNAL_METRICS = frozenset(
    {
        "up",  # Prometheus, per scrape target
        "kafka_consumergroup_lag",  # danielqsj/kafka-exporter
        "kafka_topic_partition_current_offset",  # danielqsj/kafka-exporter
    }
)
# The trainer's model monitor, being written in parallel with these exact names (issue 8). Once
# it lands, the names are found in the code as well.
MONITOR_METRICS = frozenset(
    {
        "statmuse_monitor_hit_rate_7d",
        "statmuse_monitor_ece_7d",
        "statmuse_monitor_negative_roi_days",
        "statmuse_monitor_predictions_daily",
        "statmuse_monitor_drift_psi",
        "statmuse_monitor_drift_ks",
        "statmuse_monitor_drift_alerts_total",
    }
)
# A per-process consumer group (`<svc>-models-<12 hex>`): every instance reads every model.
PER_INSTANCE_GROUP = re.compile(r".+-models-[0-9a-f]{12}$")
DUMMY_DSN = "postgresql://statmuse:Tq7-dummy@postgres:5432/statmuse"
# Where a FastStream-native service registers the router of its subscribers and publishers.
ASYNCAPI_ENTRY_POINTS = "statmuse.asyncapi"


# --------------------------------------------------------------------------- loading


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def load_yaml_all(path: Path) -> list[Any]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def load_compose() -> dict[str, Any]:
    """docker-compose.yml with its YAML merges resolved, as written (no interpolation)."""
    return load_yaml(ROOT / "docker-compose.yml")


def load_k8s() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted((ROOT / "deploy/k8s").glob("*.yaml")):
        if path.name != "kustomization.yaml":
            docs.extend(load_yaml_all(path))
    return docs


def yaml_files() -> list[Path]:
    found = [ROOT / "docker-compose.yml"]
    for pattern in ("*.yml", "*.yaml"):
        found.extend((ROOT / "deploy").rglob(pattern))
    return sorted(found)


def read_env_file(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    return env


# --------------------------------------------------------------------------- settings


def settings_class(service: str) -> type[BaseServiceSettings]:
    module = importlib.import_module(f"statmuse_{service}.settings")
    found = [
        v
        for v in vars(module).values()
        if isinstance(v, type)
        and issubclass(v, BaseServiceSettings)
        and v is not BaseServiceSettings
        and v.__module__ == module.__name__
    ]
    assert len(found) == 1, f"{module.__name__}: expected one Settings class, found {found}"
    return found[0]


@dataclass(frozen=True)
class Setting:
    field: str
    env: tuple[str, ...]  # the environment names pydantic-settings reads it from
    required: bool
    secret: bool


def settings_of(cls: type[BaseServiceSettings]) -> list[Setting]:
    """Every field and the environment names it is read from (alias choices, else prefix+name)."""
    prefix = str(cls.model_config.get("env_prefix") or "")
    out = []
    for name, field in cls.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names = tuple(c.upper() for c in alias.choices if isinstance(c, str) and c.isupper())
        elif isinstance(alias, str):
            names = (alias.upper(),)
        else:
            names = (f"{prefix}{name}".upper(),)
        out.append(
            Setting(
                name, names, field.is_required(), field.annotation in (SecretStr, SecretStr | None)
            )
        )
    return out


def known_env(cls: type[BaseServiceSettings]) -> set[str]:
    return {n for s in settings_of(cls) for n in s.env}


def env_problems(
    where: str,
    cls: type[BaseServiceSettings],
    env: Mapping[str, str],
    *,
    allowed_extra: Iterable[str] = (),
) -> list[str]:
    """`env` must hold every required setting, name nothing the class does not read, and build a
    valid production Settings."""
    problems = []
    known = known_env(cls) | set(allowed_extra)
    for name in sorted(set(env) - known):
        problems.append(f"{where}: {name} is not a setting of {cls.__name__}")
    for s in settings_of(cls):
        if s.required and not any(n in env for n in s.env):
            problems.append(f"{where}: required setting {s.field} ({'/'.join(s.env)}) is missing")
    if not problems:
        with mock.patch.dict(os.environ, {k: env[k] for k in env if k in known}, clear=True):
            try:
                settings = cls()
            except Exception as exc:  # a wrong value: the service would not start
                problems.append(f"{where}: {cls.__name__} refuses this environment: {exc}")
            else:
                if settings.environment != "production":
                    problems.append(
                        f"{where}: STATMUSE_ENV is {settings.environment}, not production"
                    )
    return problems


def build_settings(cls: type[BaseServiceSettings], env: Mapping[str, str]) -> BaseServiceSettings:
    known = known_env(cls)
    with mock.patch.dict(os.environ, {k: v for k, v in env.items() if k in known}, clear=True):
        return cls()


def default_port(service: str) -> int:
    return int(settings_class(service).model_fields["http_port"].default)


def uses(service: str, attribute: str) -> bool:
    """Whether the service's code reads `settings.<attribute>` (e.g. redis_url)."""
    src = ROOT / "services" / service / "src"
    return any(attribute in p.read_text() for p in src.rglob("*.py") if p.name != "settings.py")


def artifact_dir(env: Mapping[str, str]) -> str:
    url = env["ARTIFACT_STORE_URL"]
    assert url.startswith("file://"), url
    return url.removeprefix("file://")


# --------------------------------------------------------------------------- consumer groups


@cache
def subscriptions(service: str) -> frozenset[tuple[str, str]]:
    """(consumer group, topic) of every subscriber the service registers: the router it
    registers for the AsyncAPI document, or (a service not yet FastStream-native) what its
    handlers' `register` subscribes."""
    from faststream.kafka import KafkaBroker

    broker = KafkaBroker("localhost:9092")  # never connected
    routers = [
        ep.load()()
        for ep in importlib.metadata.entry_points(group=ASYNCAPI_ENTRY_POINTS)
        if ep.name == service
    ]
    if routers:
        for router in routers:
            broker.include_router(router)
    else:
        try:
            handlers = importlib.import_module(f"statmuse_{service}.handlers")
        except ModuleNotFoundError:
            return frozenset()  # the ingestor publishes only
        state: defaultdict[str, Any] = defaultdict(object)  # what the lifespan would have opened
        handlers.register(broker, state, settings=settings_class(service)(database_url=DUMMY_DSN))
    pairs = set()
    for sub in broker.subscribers:
        group = sub.group_id or ""
        for topic in sub.topics:
            name = str(getattr(topic, "name", topic))
            pairs.add(("<per-instance>" if PER_INSTANCE_GROUP.match(group) else group, name))
    return frozenset(pairs)


def lag_scaled_workers() -> dict[str, set[tuple[str, str]]]:
    """Services that scale on consumer lag (all consumers but the gateway, which scales on CPU)
    and their shared groups' subscriptions."""
    out = {}
    for service in SERVICES:
        shared = {(g, t) for g, t in subscriptions(service) if g != "<per-instance>"}
        if service != "gateway" and shared:
            out[service] = shared
    return out


def main_group(service: str) -> str:
    return str(settings_class(service).model_fields["group_id"].default)


# --------------------------------------------------------------------------- Dockerfiles


@dataclass(frozen=True)
class Instruction:
    cmd: str
    args: str


def parse_dockerfile(text: str) -> list[list[Instruction]]:
    """Stages of instructions (continuations joined, comments dropped)."""
    logical, buf = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        logical.append(buf + line)
        buf = ""
    stages: list[list[Instruction]] = []
    for line in logical:
        cmd, _, args = line.partition(" ")
        ins = Instruction(cmd.upper(), args.strip())
        if ins.cmd == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(ins)
    return stages


def dockerfile_env(stage: list[Instruction]) -> dict[str, str]:
    env = {}
    for ins in stage:
        if ins.cmd == "ENV":
            parts = shlex.split(ins.args)
            if parts and "=" not in parts[0]:
                env[parts[0]] = " ".join(parts[1:])
            else:
                env.update(p.split("=", 1) for p in parts)  # type: ignore[misc]
    return env


def dockerignored(path: str) -> bool:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    first = path.strip("/").split("/")[0]
    return any(p.strip("/") in (first, path.strip("/")) for p in patterns)


def dockerfile_problems(service: str, text: str) -> list[str]:
    where = f"services/{service}/Dockerfile"
    stages = parse_dockerfile(text)
    problems = []
    if len(stages) < 2:
        return [f"{where}: not multi-stage ({len(stages)} stage)"]
    builder, final = stages[0], stages[-1]
    if " AS builder" not in builder[0].args.replace(" as ", " AS "):
        problems.append(f"{where}: the first stage is not named builder")
    if not any(i.cmd == "COPY" and "astral-sh/uv" in i.args for i in builder):
        problems.append(f"{where}: the builder does not take uv from ghcr.io/astral-sh/uv")
    syncs = [i.args for i in builder if i.cmd == "RUN" and "uv sync" in i.args]
    if not syncs or not all("--frozen" in s and "--no-dev" in s for s in syncs):
        problems.append(f"{where}: uv sync must be --frozen --no-dev (the lock decides)")
    if not any(f"--package statmuse-{service}" in s for s in syncs):
        problems.append(f"{where}: uv sync does not install statmuse-{service}")
    # Runtime: only the venv comes from the builder; non-root; a HEALTHCHECK on /health.
    users = [i.args.split(":")[0] for i in final if i.cmd == "USER"]
    if not users or users[-1] in ("root", "0"):
        problems.append(f"{where}: the runtime stage does not end as a non-root USER")
    port = default_port(service)
    env = dockerfile_env(final)
    prefix = service.upper()
    if env.get(f"{prefix}_HTTP_PORT", str(port)) != str(port):
        problems.append(f"{where}: {prefix}_HTTP_PORT={env[f'{prefix}_HTTP_PORT']}, serves {port}")
    if env.get(f"{prefix}_HTTP_HOST") != "0.0.0.0":
        problems.append(f"{where}: {prefix}_HTTP_HOST must be 0.0.0.0 (probes come from outside)")
    if env.get("STATMUSE_ENV") != "production":
        problems.append(f"{where}: STATMUSE_ENV must default to production in an image")
    unknown = set(env) - known_env(settings_class(service)) - RUNTIME_ENV
    problems += [f"{where}: ENV {n} is not a setting of the service" for n in sorted(unknown)]
    checks = [i.args for i in final if i.cmd == "HEALTHCHECK"]
    if not checks or checks[-1].strip().upper() == "NONE":
        problems.append(f"{where}: no HEALTHCHECK")
    elif f"127.0.0.1:{port}/health" not in checks[-1]:
        problems.append(f"{where}: HEALTHCHECK does not GET /health on port {port}")
    if not any(i.cmd == "EXPOSE" and i.args.split()[0] == str(port) for i in final):
        problems.append(f"{where}: EXPOSE {port} is missing")
    cmds = [i.args for i in final if i.cmd == "CMD"]
    scripts = tomllib.loads((ROOT / f"services/{service}/pyproject.toml").read_text())["project"][
        "scripts"
    ]
    if not cmds or cmds[-1] != f'["statmuse-{service}", "serve"]':
        problems.append(f"{where}: CMD is not statmuse-{service} serve")
    if f"statmuse-{service}" not in scripts:
        problems.append(f"{where}: statmuse-{service} is not a script of the package")
    for stage in stages:
        for ins in stage:
            if ins.cmd == "COPY" and not ins.args.startswith("--from"):
                *sources, _ = shlex.split(ins.args)
                for src in sources:
                    if not (ROOT / src).exists():
                        problems.append(f"{where}: COPY {src}: no such path in the build context")
                    elif dockerignored(src):
                        problems.append(f"{where}: COPY {src}: excluded by .dockerignore")
    return problems


def lock_closure(package: str) -> set[str]:
    """Every package `uv sync --no-dev --package <package>` installs, from uv.lock."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    by_name = {p["name"]: p for p in lock["package"]}
    seen: set[str] = set()
    todo = [package]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        entry = by_name[name]
        for dep in entry.get("dependencies", []):
            todo.append(dep["name"])
            for extra in dep.get("extra", []):
                todo.extend(d["name"] for d in entry_extra(by_name[dep["name"]], extra))
    return seen


def entry_extra(entry: dict[str, Any], extra: str) -> list[dict[str, Any]]:
    return list(entry.get("optional-dependencies", {}).get(extra, []))


# --------------------------------------------------------------------------- compose

_VAR = re.compile(r"\$\$|\$\{(\w+)(?:(:?[-?])([^}]*))?\}|\$(\w+)")


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Compose's variable substitution: ${VAR}, ${VAR:-default}, ${VAR:?error}, $$."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(4)
        op, arg = m.group(2), m.group(3)
        have = env.get(name)
        if op in (":?", "?") and not have:
            raise KeyError(f"{name}: {arg}")
        if op in (":-", "-") and not have:
            return arg or ""
        return have or ""

    return _VAR.sub(sub, value)


def compose_env(service: dict[str, Any]) -> dict[str, str]:
    env: dict[str, str] = {}
    files = service.get("env_file") or []
    for f in [files] if isinstance(files, str) else files:
        env.update(read_env_file(ROOT / (f if isinstance(f, str) else f["path"])))
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    env.update({k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in raw.items()})
    return env


def _depends(service: dict[str, Any]) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {k: (v or {}).get("condition", "service_started") for k, v in deps.items()}


def _one_shot(service: dict[str, Any]) -> bool:
    return str(service.get("restart", "no")) == "no"


def _image_healthcheck(service: dict[str, Any]) -> bool:
    build = service.get("build")
    if not build:
        return False
    stages = parse_dockerfile((ROOT / build["dockerfile"]).read_text())
    checks = [i.args for i in stages[-1] if i.cmd == "HEALTHCHECK"]
    return bool(checks) and checks[-1].strip().upper() != "NONE"


def compose_problems(raw: dict[str, Any], *, env: Mapping[str, str] = COMPOSE_ENV) -> list[str]:
    problems: list[str] = []
    compose = interpolate(raw, env)
    services: dict[str, Any] = compose["services"]

    # Healthchecks everywhere; dependents wait on health (or on a job's successful exit).
    for name, svc in services.items():
        hc = svc.get("healthcheck")
        if _one_shot(svc):
            continue
        if hc and hc.get("disable"):
            problems.append(f"compose {name}: healthcheck disabled")
        elif not hc and not _image_healthcheck(svc):
            problems.append(f"compose {name}: no healthcheck (compose or image HEALTHCHECK)")
    for name, svc in services.items():
        for dep, cond in _depends(svc).items():
            if dep not in services:
                problems.append(f"compose {name}: depends on unknown service {dep}")
                continue
            want = (
                "service_completed_successfully" if _one_shot(services[dep]) else "service_healthy"
            )
            if cond != want:
                problems.append(f"compose {name}: depends_on {dep} is {cond}, want {want}")

    # The five services and the migrate job: right build context, settings, infrastructure.
    scrape = prometheus_targets()
    for service in SERVICES:
        svc = services.get(service)
        if svc is None:
            problems.append(f"compose: service {service} is missing")
            continue
        build = svc.get("build") or {}
        if (
            build.get("context") != "."
            or build.get("dockerfile") != f"services/{service}/Dockerfile"
        ):
            problems.append(f"compose {service}: must build services/{service}/Dockerfile from .")
        cls = settings_class(service)
        image_env = dockerfile_env(
            parse_dockerfile((ROOT / f"services/{service}/Dockerfile").read_text())[-1]
        )
        env = {k: v for k, v in image_env.items() if k not in RUNTIME_ENV} | compose_env(svc)
        found = env_problems(f"compose {service}", cls, compose_env(svc))
        found += env_problems(f"compose {service} (with image ENV)", cls, env)
        problems += found
        deps = _depends(svc)
        needs = {"kafka", "postgres", "migrate", "kafka-init"} | (
            {"redis"} if uses(service, "redis_url") else set()
        )
        problems += [f"compose {service}: does not wait for {n}" for n in sorted(needs - set(deps))]
        if found:
            continue
        settings = build_settings(cls, env)
        if scrape.get(service) != f"{service}:{settings.http_port}":
            problems.append(f"prometheus: {service} is scraped at {scrape.get(service)}")
        if uses(service, "artifact_store_url"):
            mounts = [str(v).split(":")[1] for v in svc.get("volumes", []) if ":" in str(v)]
            if artifact_dir(env) not in mounts:
                problems.append(f"compose {service}: no volume at {artifact_dir(env)}")

    migrate = services.get("migrate") or {}
    build = migrate.get("build") or {}
    if build.get("dockerfile") != "ops/Dockerfile" or build.get("context") != ".":
        problems.append("compose migrate: must build ops/Dockerfile from .")
    if "DATABASE_URL" not in compose_env(migrate):
        problems.append("compose migrate: DATABASE_URL is missing (statmuse migrate reads it)")
    problems += [
        f"compose migrate: {n} is not read by statmuse migrate"
        for n in sorted(set(compose_env(migrate)) - known_env(BaseServiceSettings))
    ]

    # Kafka in KRaft mode, every topic created with its dead-letter topic.
    kafka_env = compose_env(services.get("kafka") or {})
    if "controller" not in kafka_env.get("KAFKA_PROCESS_ROLES", "") or any(
        "ZOOKEEPER" in k for k in kafka_env
    ):
        problems.append("compose kafka: not in KRaft mode")
    init = " ".join(map(str, (services.get("kafka-init") or {}).get("command") or []))
    created = set(re.findall(r"\bnba\.[a-z0-9_.]+\.v\d+\b", init))
    if created != set(topics.ALL):
        problems.append(f"compose kafka-init: creates {sorted(created)}, want {sorted(topics.ALL)}")
    if ".dlq" not in init or f"--partitions {topics.DEFAULT_PARTITIONS}" not in init:
        problems.append("compose kafka-init: no .dlq topics or not 6 partitions")

    # Monitoring: the lag exporter, the alert rules, the dashboards.
    if "kafka-exporter" not in services or "kafka-exporter" not in scrape:
        problems.append("compose: no kafka-exporter scraped by Prometheus")
    prom_mounts = [str(v) for v in (services.get("prometheus") or {}).get("volumes", [])]
    rule_files = load_yaml(ROOT / "deploy/prometheus/prometheus.yml").get("rule_files") or []
    for rule in rule_files:
        if not any(m.startswith("./deploy/prometheus/alerts.yml:" + rule) for m in prom_mounts):
            problems.append(f"compose prometheus: rule file {rule} is not mounted")
    if not rule_files:
        problems.append("prometheus.yml: no rule_files")
    graf = [str(v) for v in (services.get("grafana") or {}).get("volumes", [])]
    if not any(
        v.startswith("./deploy/grafana/provisioning:/etc/grafana/provisioning") for v in graf
    ):
        problems.append("compose grafana: provisioning is not mounted")
    return problems


def prometheus_targets() -> dict[str, str]:
    config = load_yaml(ROOT / "deploy/prometheus/prometheus.yml")
    out = {}
    for job in config["scrape_configs"]:
        for sc in job.get("static_configs", []):
            for target in sc["targets"]:
                out[job["job_name"]] = target
    return out


# --------------------------------------------------------------------------- Kubernetes


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d.get("kind") == kind}


def _container(doc: dict[str, Any]) -> dict[str, Any]:
    spec = doc["spec"]
    if doc["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return dict(spec["template"]["spec"]["containers"][0])


def k8s_env(
    container: dict[str, Any],
    configmaps: dict[str, dict[str, Any]],
    secrets: Mapping[str, str],
) -> tuple[dict[str, str], dict[str, str]]:
    """(environment, where each name came from: configmap | secret | literal)."""
    env, source = {}, {}
    for ref in container.get("envFrom", []):
        if "configMapRef" in ref:
            data = configmaps.get(ref["configMapRef"]["name"], {}).get("data", {})
            env.update({k: str(v) for k, v in data.items()})
            source.update(dict.fromkeys(data, "configmap"))
        if "secretRef" in ref:
            env.update(secrets)
            source.update(dict.fromkeys(secrets, "secret"))
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]], source[item["name"]] = str(item["value"]), "literal"
        elif "secretKeyRef" in item.get("valueFrom", {}):
            key = item["valueFrom"]["secretKeyRef"]["key"]
            env[item["name"]], source[item["name"]] = secrets.get(key, ""), "secret"
        else:
            env[item["name"]], source[item["name"]] = "from-ref", "configmap"
    return env, source


def secret_example() -> dict[str, str]:
    return read_env_file(ROOT / "deploy/k8s/secrets.env.example")


def filled_secrets() -> dict[str, str]:
    """secrets.env.example with its placeholder passwords replaced, as an operator would."""
    return {k: v.replace("changeme", "Tq7-k8s-check") for k, v in secret_example().items()}


def _probe_ok(probe: dict[str, Any] | None, path: str, port: int, ports: dict[str, int]) -> bool:
    if not probe or "httpGet" not in probe:
        return False
    target = probe["httpGet"]["port"]
    return bool(probe["httpGet"]["path"] == path and ports.get(str(target), target) == port)


def k8s_problems(docs: list[dict[str, Any]], secrets: Mapping[str, str]) -> list[str]:
    problems: list[str] = []
    deployments = by_kind(docs, "Deployment")
    configmaps = by_kind(docs, "ConfigMap")
    pdbs = list(by_kind(docs, "PodDisruptionBudget").values())
    hpas = list(by_kind(docs, "HorizontalPodAutoscaler").values())
    scaled = list(by_kind(docs, "ScaledObject").values())
    secret_fields = {
        n for s in SERVICES for st in settings_of(settings_class(s)) if st.secret for n in st.env
    }
    if by_kind(docs, "Secret"):
        problems.append("k8s: a Secret manifest is committed; secrets come from secrets.env")
    for name, cm in configmaps.items():
        for key, value in (cm.get("data") or {}).items():
            if key in secret_fields or re.search(r"PASSWORD|SECRET|TOKEN|PEPPER", key):
                problems.append(f"k8s ConfigMap {name}: {key} is a secret")
            if re.search(r"://[^/@\s]+:[^/@\s]+@", str(value)):
                problems.append(f"k8s ConfigMap {name}: {key} carries a password")
    bootstrap = {
        str((cm.get("data") or {}).get("KAFKA_BOOTSTRAP_SERVERS"))
        for cm in configmaps.values()
        if "KAFKA_BOOTSTRAP_SERVERS" in (cm.get("data") or {})
    }

    for service in SERVICES:
        dep = deployments.get(service)
        if dep is None:
            problems.append(f"k8s: no Deployment {service}")
            continue
        where = f"k8s Deployment {service}"
        c = _container(dep)
        if c.get("image", "").split(":")[0] != f"statmuse/{service}":
            problems.append(f"{where}: image {c.get('image')}, want statmuse/{service}")
        cls = settings_class(service)
        env, source = k8s_env(c, configmaps, secrets)
        found = env_problems(where, cls, env)
        problems += found
        for n in sorted(secret_fields & set(env)):
            if source[n] != "secret":
                problems.append(f"{where}: {n} is a secret but comes from a {source[n]}")
        if found:
            continue
        settings = build_settings(cls, env)
        ports = {p.get("name", ""): p["containerPort"] for p in c.get("ports", [])}
        if settings.http_port not in ports.values():
            problems.append(f"{where}: serves on {settings.http_port}, no such containerPort")
        for kind, path in (("livenessProbe", "/health"), ("readinessProbe", "/ready")):
            if not _probe_ok(c.get(kind), path, settings.http_port, ports):
                problems.append(f"{where}: {kind} must GET {path} on port {settings.http_port}")
        pod = dep["spec"]["template"]["spec"]
        sc = pod.get("securityContext", {})
        if not sc.get("runAsNonRoot") or sc.get("runAsUser", 0) == 0:
            problems.append(f"{where}: must run as non-root")
        if not c.get("securityContext", {}).get("readOnlyRootFilesystem"):
            problems.append(f"{where}: root filesystem must be read-only")
        if uses(service, "artifact_store_url"):
            mounts = [m["mountPath"] for m in c.get("volumeMounts", [])]
            if artifact_dir(env) not in mounts:
                problems.append(f"{where}: nothing mounted at {artifact_dir(env)}")
        labels = dep["spec"]["template"]["metadata"]["labels"]
        if not any(
            p["spec"]["selector"]["matchLabels"].items() <= labels.items()
            for p in pdbs
            if p["spec"].get("selector", {}).get("matchLabels")
        ):
            problems.append(f"{where}: no PodDisruptionBudget selects it")
        autoscaled = any(h["spec"]["scaleTargetRef"]["name"] == service for h in [*hpas, *scaled])
        if autoscaled and "replicas" in dep["spec"]:
            problems.append(f"{where}: sets replicas although an autoscaler owns them")

    # The gateway scales on CPU; lag-scaled workers on their own groups' lag, never both.
    gateway_hpa = [h for h in hpas if h["spec"]["scaleTargetRef"]["name"] == "gateway"]
    cpu = [
        m
        for h in gateway_hpa
        for m in h["spec"].get("metrics", [])
        if m.get("type") == "Resource" and m["resource"]["name"] == "cpu"
    ]
    for hpa in gateway_hpa:
        if hpa["apiVersion"] != "autoscaling/v2":
            problems.append(f"k8s gateway HPA: {hpa['apiVersion']}, want autoscaling/v2")
    if not cpu:
        problems.append("k8s: no HorizontalPodAutoscaler on CPU for the gateway")
    elif "gateway" in deployments:
        requests = _container(deployments["gateway"]).get("resources", {}).get("requests", {})
        if "cpu" not in requests:
            problems.append("k8s gateway: CPU scaling needs a CPU request")
    for worker, subs in lag_scaled_workers().items():
        mine = [s for s in scaled if s["spec"]["scaleTargetRef"]["name"] == worker]
        if not mine:
            problems.append(f"k8s: no KEDA ScaledObject for {worker}")
            continue
        triggers = [t for s in mine for t in s["spec"].get("triggers", []) if t["type"] == "kafka"]
        pairs = {(t["metadata"]["consumerGroup"], t["metadata"]["topic"]) for t in triggers}
        for pair in sorted(pairs - subs):
            problems.append(f"k8s ScaledObject {worker}: {pair} is not one of its subscriptions")
        if not any(g == main_group(worker) for g, _ in pairs & subs):
            problems.append(f"k8s ScaledObject {worker}: no trigger on group {main_group(worker)}")
        for t in triggers:
            if t["metadata"].get("bootstrapServers") not in bootstrap:
                problems.append(f"k8s ScaledObject {worker}: bootstrapServers differ from config")
        for s in mine:
            if int(s["spec"].get("maxReplicaCount", 100)) > topics.DEFAULT_PARTITIONS:
                problems.append(
                    f"k8s ScaledObject {worker}: more replicas than the "
                    f"{topics.DEFAULT_PARTITIONS} partitions"
                )
        if any(h["spec"]["scaleTargetRef"]["name"] == worker for h in hpas):
            problems.append(f"k8s {worker}: both an HPA and a ScaledObject")

    # The migrate job.
    jobs = [
        j for j in by_kind(docs, "Job").values() if _container(j).get("image") == "statmuse/ops"
    ]
    if not jobs:
        problems.append("k8s: no migrate Job (image statmuse/ops)")
    for job in jobs:
        c = _container(job)
        if c.get("command") != ["statmuse", "migrate"]:
            problems.append("k8s migrate Job: command is not statmuse migrate")
        env, source = k8s_env(c, configmaps, secrets)
        if source.get("DATABASE_URL") != "secret":
            problems.append("k8s migrate Job: DATABASE_URL must come from the Secret")
    for cron in by_kind(docs, "CronJob").values():
        c = _container(cron)
        service = c["image"].split("/")[-1].split(":")[0]
        if service in SERVICES:
            env, _ = k8s_env(c, configmaps, secrets)
            problems += env_problems(
                f"k8s CronJob {cron['metadata']['name']}", settings_class(service), env
            )
    return problems


def kustomization_problems() -> list[str]:
    k = load_yaml(ROOT / "deploy/k8s/kustomization.yaml")
    listed = set(k.get("resources", []))
    present = {p.name for p in (ROOT / "deploy/k8s").glob("*.yaml")} - {"kustomization.yaml"}
    problems = [f"kustomization: {r} is listed but missing" for r in sorted(listed - present)]
    problems += [f"kustomization: {r} is not listed" for r in sorted(present - listed)]
    generated = [g["name"] for g in k.get("secretGenerator", [])]
    if "statmuse-secrets" not in generated:
        problems.append("kustomization: no secretGenerator for statmuse-secrets")
    return problems


# --------------------------------------------------------------------------- metrics and PromQL

_METRIC_DEF = re.compile(r"\b(Counter|Gauge|Histogram|Summary)\(\s*\"([a-zA-Z_:][a-zA-Z0-9_:]*)\"")
_KEYWORDS = frozenset(
    {
        "and",
        "or",
        "unless",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "bool",
        "offset",
        "inf",
        "nan",
    }
)


@cache
def code_metrics() -> frozenset[str]:
    """Every metric name the code registers, with the series names it exposes."""
    names: set[str] = set()
    for src in [ROOT / "shared/src", *(ROOT / "services").glob("*/src")]:
        for path in src.rglob("*.py"):
            for kind, name in _METRIC_DEF.findall(path.read_text()):
                names.add(name)
                if kind == "Counter" and not name.endswith("_total"):
                    names.add(f"{name}_total")
                if kind in ("Histogram", "Summary"):
                    names.update(f"{name}{s}" for s in ("_bucket", "_count", "_sum"))
    return frozenset(names)


def known_metrics() -> frozenset[str]:
    return code_metrics() | MONITOR_METRICS | EXTERNAL_METRICS


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (functions, keywords, labels left out)."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    names = set()
    for m in re.finditer(r"(?<![\w.])[a-zA-Z_:][a-zA-Z0-9_:]*", e):
        if e[m.end() :].lstrip().startswith("(") or m.group(0) in _KEYWORDS:
            continue
        names.add(m.group(0))
    return names


def label_values(expr: str, metric: str, label: str) -> set[str]:
    pattern = re.escape(metric) + r"\{([^}]*)\}"
    values = set()
    for matchers in re.findall(pattern, expr):
        for value in re.findall(re.escape(label) + r'\s*!?=~?\s*"([^"]*)"', matchers):
            values.add(value)
    return values


def slug(heading: str) -> str:
    """GitHub's anchor for a markdown heading."""
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {slug(m) for m in re.findall(r"^#+\s+(.+)$", path.read_text(), flags=re.M)}


# (what the issue asks for, the metric, a regex the expression must match)
REQUIRED_ALERTS = (
    ("hit rate below 60% over 7 days", r"statmuse_monitor_hit_rate_7d\s*<\s*0?\.60?\b"),
    ("ECE above 0.10", r"statmuse_monitor_ece_7d\s*>\s*0?\.10?\b"),
    ("ROI negative for 7 days", r"statmuse_monitor_negative_roi_days\s*>=\s*7\b"),
    ("missing data above 10%", r"statmuse_data_missing_ratio\s*>\s*0?\.10?\b"),
    ("no new data for 24 hours", r"statmuse_ingestor_last_game_date_timestamp"),
    ("source failures above 5%", r"statmuse_ingestor_source_requests_total[\s\S]*>\s*0?\.05\b"),
    ("growing consumer lag", r"deriv\(\s*kafka_consumergroup_lag"),
    ("gateway 5xx rate", r"statmuse_gateway_requests_total\{status=~\"5\.\.\"\}"),
)
SEVERITIES = frozenset({"info", "warning", "critical"})


def alert_problems(rules: dict[str, Any]) -> list[str]:
    problems = []
    from statmuse_ingestor.nba_api_source import OUTCOMES

    exprs = []
    for group in rules.get("groups") or []:
        for rule in group.get("rules") or []:
            name = rule.get("alert", "?")
            for key in ("alert", "expr", "for"):
                if not rule.get(key):
                    problems.append(f"alert {name}: no {key}")
            if (rule.get("labels") or {}).get("severity") not in SEVERITIES:
                problems.append(
                    f"alert {name}: labels.severity must be one of {sorted(SEVERITIES)}"
                )
            notes = rule.get("annotations") or {}
            if not notes.get("summary"):
                problems.append(f"alert {name}: no annotations.summary")
            runbook = str(notes.get("runbook", ""))
            path, _, anchor = runbook.partition("#")
            if not path or not (ROOT / path).is_file():
                problems.append(f"alert {name}: runbook {runbook!r} does not exist")
            elif anchor and anchor not in anchors(ROOT / path):
                problems.append(f"alert {name}: runbook has no section #{anchor}")
            expr = str(rule.get("expr", ""))
            exprs.append(expr)
            for metric in sorted(metric_names(expr) - known_metrics()):
                problems.append(f"alert {name}: unknown metric {metric}")
            bad = label_values(expr, "statmuse_ingestor_source_requests_total", "outcome")
            for value in sorted(bad - set(OUTCOMES)):
                problems.append(f"alert {name}: outcome {value!r} is never recorded")
    for what, pattern in REQUIRED_ALERTS:
        if not any(re.search(pattern, e) for e in exprs):
            problems.append(f"alerts: nothing alerts on {what} (/{pattern}/)")
    return problems


# --------------------------------------------------------------------------- Grafana

DASHBOARD_DIR = ROOT / "deploy/grafana/provisioning/dashboards"
REQUIRED_DASHBOARDS = ("pipeline", "lag", "latency", "calibration", "freshness")


def dashboards() -> dict[str, dict[str, Any]]:
    import json

    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARD_DIR.glob("*.json"))}


def panel_exprs(dashboard: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], str]]:
    for panel in dashboard.get("panels", []):
        for target in panel.get("targets", []):
            yield panel.get("title", "?"), target, str(target.get("expr", ""))


def dashboard_problems(boards: dict[str, dict[str, Any]]) -> list[str]:
    problems = []
    datasources = load_yaml(ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml")
    uids = {d["uid"] for d in datasources["datasources"]}
    providers = load_yaml(DASHBOARD_DIR / "statmuse.yml")["providers"]
    if not any(p["options"]["path"] == "/etc/grafana/provisioning/dashboards" for p in providers):
        problems.append("grafana: no provider loads /etc/grafana/provisioning/dashboards")
    seen: set[str] = set()
    for file, board in boards.items():
        uid = board.get("uid")
        if not uid or uid in seen:
            problems.append(f"grafana {file}: missing or duplicate uid {uid}")
        seen.add(str(uid))
        if not board.get("panels"):
            problems.append(f"grafana {file}: no panels")
        for title, target, expr in panel_exprs(board):
            if (target.get("datasource") or {}).get("uid") not in uids:
                problems.append(f"grafana {file} / {title}: datasource is not {sorted(uids)}")
            if not expr:
                problems.append(f"grafana {file} / {title}: empty query")
            for metric in sorted(metric_names(expr) - known_metrics()):
                problems.append(f"grafana {file} / {title}: unknown metric {metric}")
    for topic in REQUIRED_DASHBOARDS:
        if not any(topic in f"{f} {b.get('title', '')}".lower() for f, b in boards.items()):
            problems.append(f"grafana: no {topic} dashboard")
    return problems


def without(data: dict[str, Any], *path: str) -> dict[str, Any]:
    """A deep copy of `data` with the key at `path` removed (for the mutation tests)."""
    out = copy.deepcopy(data)
    node = out
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return out


# --------------------------------------------------------------------------- runbooks

RUNBOOKS = ROOT / "docs/runbooks"
# `statmuse <cmd> …` that hand their arguments to a service's CLI (statmuse_ops.cli).
PASSTHROUGH = {
    "ingest": ("statmuse-ingestor", ()),
    "train": ("statmuse-trainer", ("train",)),
    "evaluate": ("statmuse-trainer", ("evaluate",)),
    "backtest": ("statmuse-trainer", ("backtest",)),
    "fit-lines": ("statmuse-trainer", ("fit-lines",)),
    "apikey": ("statmuse-gateway", ("apikey",)),
}


def shell_commands(markdown: str) -> Iterator[str]:
    """Every command line of the fenced shell blocks (continuations joined)."""
    for block in re.findall(r"```(?:bash|sh|shell|console)\n(.*?)```", markdown, flags=re.S):
        buf = ""
        for line in block.splitlines():
            line = line.strip().removeprefix("$ ")
            if line.endswith("\\"):
                buf += line[:-1] + " "
                continue
            if (buf + line).strip() and not line.startswith("#"):
                yield buf + line
            buf = ""


def _cli(script: str) -> Any:
    import typer

    module = "statmuse_ops.cli" if script == "statmuse" else script.replace("-", "_") + ".cli"
    return typer.main.get_command(importlib.import_module(module).app)


def command_problems(line: str, *, complete: bool = True) -> list[str]:
    """A `statmuse…` command must name real (sub)commands and options of the installed CLIs;
    `complete=False` (a mention in prose) lets it stop at a group (`statmuse-gateway apikey`)."""
    try:
        words = shlex.split(line)
    except ValueError as exc:
        return [f"{line}: {exc}"]
    cut = next((i for i, w in enumerate(words) if w in ("|", "&&", ";", ">", "2>")), len(words))
    words = [w for w in words[:cut] if w not in ("…", "...")]  # "and so on" in prose
    start = next(
        (
            i
            for i, w in enumerate(words)
            if re.fullmatch(r"statmuse(-\w+)?", w) and (i == 0 or words[i - 1] != "-n")
        ),
        None,
    )
    if start is None:
        return []
    script, args = words[start], words[start + 1 :]
    if script != "statmuse" and script.removeprefix("statmuse-") not in SERVICES:
        return [f"{line}: no such CLI {script}"]
    if script == "statmuse" and args and args[0] in PASSTHROUGH:
        script, prefix = PASSTHROUGH[args[0]]
        args = [*prefix, *args[1:]]
    cmd = _cli(script)
    path = [script]
    # Typer carries its own click: groups are recognised by their `commands`.
    while getattr(cmd, "commands", None) is not None and args and not args[0].startswith("-"):
        sub = cmd.commands.get(args[0])
        if sub is None:
            return [f"{line}: `{' '.join(path)}` has no command {args[0]!r}"]
        path.append(args.pop(0))
        cmd = sub
    if complete and getattr(cmd, "commands", None) is not None:
        return [f"{line}: `{' '.join(path)}` needs a command"]
    options = {o for p in cmd.params for o in [*p.opts, *p.secondary_opts]} | {"--help"}
    return [
        f"{line}: `{' '.join(path)}` has no option {a.split('=')[0]}"
        for a in args
        if a.startswith("--") and a.split("=")[0] not in options
    ]


def runbook_problems(files: Iterable[Path]) -> list[str]:
    problems = []
    for path in files:
        text = path.read_text()
        for line in shell_commands(text):
            problems += [f"{path.name}: {p}" for p in command_problems(line)]
        for span in re.findall(r"(?<!`)`((?:uv run )?statmuse[^`]*)`(?!`)", text):
            found = command_problems(" ".join(span.split()), complete=False)
            problems += [f"{path.name}: {p}" for p in found]
        for target, anchor in re.findall(r"\]\(([^)#\s]+\.md)?(?:#([\w-]+))?\)", text):
            file = (path.parent / target) if target else path
            if target and target != "backup-restore.md" and not file.is_file():
                problems.append(f"{path.name}: link to missing {target}")
            elif anchor and file.is_file() and anchor not in anchors(file):
                problems.append(f"{path.name}: link to missing section {target}#{anchor}")
    return problems
