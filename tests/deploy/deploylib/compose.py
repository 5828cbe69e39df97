"""docker-compose.yml: healthchecks everywhere, dependents wait on health, every image built from
the Dockerfile with the build arguments that make the right image, every service given every
setting its Settings class requires (and none it does not know), Kafka in KRaft mode with every
topic, Prometheus and Grafana wired."""

import re
from collections.abc import Mapping
from typing import Any

from deploylib.common import (
    ROOT,
    SERVICES,
    artifact_dir,
    build_settings,
    env_problems,
    known_env,
    load_yaml,
    read_env_file,
    settings_class,
    substitute,
    uses,
)
from deploylib.dockerfile import (
    DOCKERFILE,
    RUNTIME_ENV,
    Image,
    image_problems,
    owned_dirs,
    parse_dockerfile,
    resolve,
)
from deploylib.mlflow import compose_mlflow_problems
from statmuse_shared.contract import topics
from statmuse_shared.platform.settings import BaseServiceSettings

# Values for the variables docker-compose.yml requires (`${VAR:?}`); not placeholders.
COMPOSE_ENV = {
    "POSTGRES_PASSWORD": "Tq7-compose-check",
    "GRAFANA_ADMIN_PASSWORD": "Tq7-grafana",
    "ALERTMANAGER_WEBHOOK_URL": "https://hooks.example.com/compose-check",
    **{
        f"KAFKA_{user}_PASSWORD": f"Tq7-kafka-{user.lower()}"
        for user in ("ADMIN", "INGESTOR", "FEATURES", "TRAINER", "PREDICTOR", "GATEWAY", "EXPORTER")
    },
}
# The compose service that builds each image.
IMAGES = {**{s: s for s in SERVICES}, "ops": "migrate"}


def load_compose() -> dict[str, Any]:
    """docker-compose.yml with its YAML merges resolved, as written (no interpolation)."""
    return load_yaml(ROOT / "docker-compose.yml")


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Compose's variable substitution: ${VAR}, ${VAR:-default}, ${VAR:?error}, $$."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value
    return substitute(value, env)


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


def build_args(service: dict[str, Any]) -> dict[str, str]:
    """A compose service's build arguments (interpolated compose, list or mapping form)."""
    raw = (service.get("build") or {}).get("args") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {k: str(v) for k, v in raw.items()}


def image_args(name: str, compose: dict[str, Any] | None = None) -> dict[str, str]:
    """The build arguments docker-compose.yml builds the image `name` (a service, or ops) with."""
    raw = compose if compose is not None else load_compose()
    return build_args(interpolate(raw, COMPOSE_ENV)["services"][IMAGES[name]])


def _depends(service: dict[str, Any]) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {k: (v or {}).get("condition", "service_started") for k, v in deps.items()}


def _one_shot(service: dict[str, Any]) -> bool:
    return str(service.get("restart", "no")) == "no"


def _image(service: dict[str, Any]) -> Image | None:
    """The image a compose service builds (None: it builds none, or Docker would refuse)."""
    build = service.get("build") or {}
    if build.get("dockerfile") != DOCKERFILE.name or build.get("context") != ".":
        return None
    try:
        return resolve(parse_dockerfile(DOCKERFILE.read_text()), build_args(service))
    except (KeyError, IndexError, ValueError):
        return None


def _image_healthcheck(service: dict[str, Any]) -> bool:
    image = _image(service)
    return bool(image and image.healthcheck and image.healthcheck != ["NONE"])


def _build_problems(name: str, service: dict[str, Any]) -> list[str]:
    """The compose service builds the Dockerfile from the repo root into the image `name`."""
    where = f"compose {IMAGES[name]}"
    build = service.get("build") or {}
    if build.get("context") != "." or build.get("dockerfile") != DOCKERFILE.name:
        return [f"{where}: must build {DOCKERFILE.name} from ."]
    args = build_args(service)
    if args.get("SERVICE") != name:
        return [f"{where}: builds SERVICE={args.get('SERVICE')}, want {name}"]
    return [f"{where}: {p}" for p in image_problems(name, DOCKERFILE.read_text(), args)]


def _volume_problems(service_name: str, service: dict[str, Any], image: Image) -> list[str]:
    """A named volume copies the owner of its mount point from the first image that mounts it:
    every mount point must be a directory the image gives its user."""
    owned = owned_dirs(image)
    problems = []
    for volume in service.get("volumes", []):
        source, _, rest = str(volume).partition(":")
        target = rest.split(":")[0]
        if not target or source.startswith((".", "/")):
            continue  # a bind mount: the host decides
        if owned.get(target) != image.user:
            problems.append(
                f"compose {service_name}: volume {source} at {target}, which the image does not "
                f"give {image.user} (OWNED_DIRS)"
            )
    return problems


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

    # The five services and the migrate job: the right image, settings, infrastructure.
    scrape = prometheus_targets()
    for service in SERVICES:
        svc = services.get(service)
        if svc is None:
            problems.append(f"compose: service {service} is missing")
            continue
        problems += _build_problems(service, svc)
        image = _image(svc)
        cls = settings_class(service)
        image_env = image.env if image else {}
        env = {k: v for k, v in image_env.items() if k not in RUNTIME_ENV} | compose_env(svc)
        found = env_problems(f"compose {service}", cls, compose_env(svc))
        found += env_problems(f"compose {service} (with image ENV)", cls, env)
        problems += found
        deps = _depends(svc)
        needs = {"kafka", "postgres", "migrate", "kafka-init"} | (
            {"redis"} if uses(service, "redis_url") else set()
        )
        problems += [f"compose {service}: does not wait for {n}" for n in sorted(needs - set(deps))]
        if image:
            problems += _volume_problems(service, svc, image)
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
    problems += _build_problems("ops", migrate)
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

    problems += kafka_auth_problems(services)
    problems += compose_mlflow_problems(raw, compose)

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


def kafka_auth_problems(services: dict[str, Any]) -> list[str]:
    """The broker requires SASL and authorizes with ACLs (nothing allowed without one); each
    service logs in as its own user, which the broker knows; kafka-init adds the generated
    ACLs (deploy/k8s/kafka-acls.sh, current with the code); the lag exporter logs in too."""
    from statmuse_shared.contract import acls

    problems: list[str] = []
    kafka = services.get("kafka") or {}
    env = compose_env(kafka)
    listeners = env.get("KAFKA_LISTENERS", "")
    if "PLAINTEXT://:" in listeners.replace("SASL_PLAINTEXT://:", "") or (
        "SASL_PLAINTEXT://:9092" not in listeners
    ):
        problems.append("compose kafka: the network listener must be SASL_PLAINTEXT only")
    if not re.match(r"^CONTROLLER://127\.0\.0\.1:", listeners.split(",")[-1]):
        problems.append("compose kafka: the controller must listen on loopback only")
    if env.get("KAFKA_AUTHORIZER_CLASS_NAME", "").split(".")[-1] != "StandardAuthorizer":
        problems.append("compose kafka: no ACL authorizer")
    if env.get("KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND", "true").lower() != "false":
        problems.append("compose kafka: everyone is allowed where no ACL says")
    # The image turns every KAFKA_* variable into a broker property (logged at start).
    for name in sorted(k for k in env if k.startswith("KAFKA_") and "PASSWORD" in k):
        problems.append(f"compose kafka: {name} would become a broker property")
    jaas = " ".join(map(str, kafka.get("command") or []))
    known = set(re.findall(r"\buser_([A-Za-z0-9_-]+)=", jaas))
    for user in sorted(set(acls.users()) - known):
        problems.append(f"compose kafka: no SASL user {user}")
    for service in SERVICES:
        svc_env = compose_env(services.get(service) or {})
        if svc_env.get("KAFKA_SECURITY_PROTOCOL") != "SASL_PLAINTEXT":
            problems.append(f"compose {service}: does not log in to the broker (SASL)")
        if svc_env.get("KAFKA_USERNAME") != service:
            problems.append(f"compose {service}: logs in as {svc_env.get('KAFKA_USERNAME')}")
        if not svc_env.get("KAFKA_PASSWORD"):
            problems.append(f"compose {service}: no KAFKA_PASSWORD")
    init = services.get("kafka-init") or {}
    if "/acls/acls.sh" not in " ".join(map(str, init.get("command") or [])):
        problems.append("compose kafka-init: does not add the ACLs")
    if not any(
        str(v).startswith("./deploy/k8s/kafka-acls.sh:/acls/acls.sh")
        for v in init.get("volumes", [])
    ):
        problems.append("compose kafka-init: deploy/k8s/kafka-acls.sh is not mounted")
    if acls.main(["--check"]) != 0:
        problems.append("deploy/k8s/kafka-acls.sh is stale: make kafka-acls")
    exporter = " ".join(map(str, (services.get("kafka-exporter") or {}).get("command") or []))
    if "--sasl.enabled" not in exporter or f"--sasl.username={acls.EXPORTER}" not in exporter:
        problems.append("compose kafka-exporter: does not log in to the broker")
    return problems
