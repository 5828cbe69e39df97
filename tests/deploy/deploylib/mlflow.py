"""The MLflow tracking server (the trainer's model registry) in docker-compose.yml and deploy/k8s:
its image (MLflow's own, at uv.lock's version, with uv.lock's PostgreSQL driver, non-root), its
command (served artifacts on a volume, no job runner, a Host allowlist), its database URL from
the secrets, its healthcheck and probes on /health; the trainer pointed at it (and waiting for
it), the gateway's links to its UI; in Kubernetes only the trainer may reach it.

The Host check is MLflow's own (`mlflow.server.security_utils`): a tracking URI whose host the
server's --allowed-hosts refuses gets 403 on every call, which no static check of the URL alone
would notice.
"""

import importlib.util
import re
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from deploylib.common import ROOT, by_kind, load_yaml, read_env_file, selects
from deploylib.dockerfile import Image, owned_dirs, parse_dockerfile, probed_url, resolve
from deploylib.lock import locked_version

MLFLOW_DOCKERFILE = ROOT / "deploy/mlflow/Dockerfile"
OFFICIAL_IMAGE = "ghcr.io/mlflow/mlflow"
ARTIFACTS = "/var/lib/mlflow/artifacts"
# The pods that may reach the server: the trainer's Deployment and the training Job's.
TRAINER_PODS = frozenset({"trainer", "train"})


# --------------------------------------------------------------------------- the image


def mlflow_image() -> Image:
    return resolve(parse_dockerfile(MLFLOW_DOCKERFILE.read_text()), {})


def mlflow_image_problems(image: Image) -> list[str]:
    """MLflow's official image at the client's version, psycopg at the lock's, a non-root user
    that owns the artifact directory, a HEALTHCHECK on /health."""
    where = "deploy/mlflow/Dockerfile"
    problems = []
    want = f"{OFFICIAL_IMAGE}:v{locked_version('mlflow')}"
    if image.base_image != want:
        problems.append(f"{where}: FROM {image.base_image}, want {want} (uv.lock's mlflow)")
    pins = {m for r in image.runs for m in re.findall(r"psycopg\[binary\]==([\w.]+)", r.command)}
    if pins != {locked_version("psycopg")}:
        problems.append(
            f"{where}: installs psycopg[binary] {sorted(pins)}, want "
            f"{locked_version('psycopg')} (uv.lock's)"
        )
    if image.user in ("", "0", "root"):
        problems.append(f"{where}: runs as root")
    users = {
        name: uid
        for r in image.runs
        for uid, name in re.findall(
            r"useradd [^&;|]*--uid (\d+) [^&;|]*?(\S+)\s*(?:$|&&)", r.command
        )
    }
    owner = owned_dirs(image).get(ARTIFACTS)
    if owner is None or image.user not in (owner, users.get(owner)):
        problems.append(
            f"{where}: {ARTIFACTS} is not its user's ({image.user}), a volume there is not"
        )
    if urlsplit(probed_url(image)).path != "/health":
        problems.append(f"{where}: no HEALTHCHECK on /health")
    return problems


# --------------------------------------------------------------------------- the command


def server_options(command: Sequence[str]) -> dict[str, str] | None:
    """`mlflow server`'s options (`--name=value`, `--name value`, a bare flag: ""); None when
    the command is not `mlflow server`."""
    args = [str(a) for a in command]
    if args[:2] != ["mlflow", "server"]:
        return None
    out: dict[str, str] = {}
    i = 2
    while i < len(args):
        name, eq, value = args[i].partition("=")
        if not eq and i + 1 < len(args) and not args[i + 1].startswith("--"):
            value, i = args[i + 1], i + 1
        out[name] = value
        i += 1
    return out


@cache
def _security_utils() -> ModuleType:
    """MLflow's Host checks (uv.lock's mlflow, the server's version), loaded from their file:
    importing `mlflow.server` would build its whole app (seconds, and SQLAlchemy warnings)."""
    found = importlib.util.find_spec("mlflow")
    assert found is not None, "mlflow is not installed (uv sync)"
    origin = found.origin
    path = Path(str(origin)).parent / "server" / "security_utils.py"
    spec = importlib.util.spec_from_file_location("mlflow_server_security_utils", path)
    assert spec is not None, path
    assert spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def allowed_hosts(options: Mapping[str, str], env: Mapping[str, str]) -> list[str]:
    """The Host headers the server answers, as MLflow works them out (the option, its
    environment variable, else its default: loopback and private addresses)."""
    raw = options.get("--allowed-hosts") or env.get("MLFLOW_SERVER_ALLOWED_HOSTS")
    if raw:
        return [h.strip() for h in raw.split(",")]
    return list(_security_utils().get_default_allowed_hosts())


def host_refused(hosts: list[str], url: str) -> bool:
    """Whether a request to `url` (its Host header: host:port) gets MLflow's 403."""
    return not _security_utils().is_allowed_host_header(hosts, urlsplit(url).netloc)


def command_problems(
    where: str, command: Sequence[str], env: Mapping[str, str], *, artifact_mounts: set[str]
) -> list[str]:
    """`mlflow server` on every interface, artifacts served from a volume, workers set, the job
    runner off, the database URL from the environment (not in the command line)."""
    options = server_options(command)
    if options is None:
        return [f"{where}: the command is not `mlflow server`"]
    problems = []
    if options.get("--host") != "0.0.0.0":
        problems.append(f"{where}: --host must be 0.0.0.0 (others reach it over the network)")
    if "--serve-artifacts" not in options or "--no-serve-artifacts" in options:
        problems.append(f"{where}: artifacts are not served (the trainer would need the volume)")
    destination = options.get("--artifacts-destination", "")
    if destination.removeprefix("file://") not in artifact_mounts:
        problems.append(f"{where}: --artifacts-destination {destination!r} is not on a volume")
    if not options.get("--workers", "").isdigit():
        problems.append(f"{where}: --workers is not set (MLflow's default is 4)")
    if "--backend-store-uri" in options:
        problems.append(f"{where}: the database URL (with its password) is in the command line")
    if env.get("MLFLOW_SERVER_ENABLE_JOB_EXECUTION") != "false":
        problems.append(f"{where}: MLFLOW_SERVER_ENABLE_JOB_EXECUTION must be false")
    store = env.get("MLFLOW_BACKEND_STORE_URI", "")
    if not store.startswith("postgresql+psycopg://") or urlsplit(store).path != "/mlflow":
        problems.append(
            f"{where}: MLFLOW_BACKEND_STORE_URI must be the database mlflow through psycopg "
            "(postgresql+psycopg://…/mlflow)"
        )
    return problems


def client_problems(
    where: str, url: str | None, *, hosts: list[str], service_urls: set[str]
) -> list[str]:
    """A client's URL names the server and the server answers its Host header."""
    if not url:
        return [f"{where}: no MLflow URL"]
    problems = []
    if service_urls and f"{urlsplit(url).scheme}://{urlsplit(url).netloc}" not in service_urls:
        problems.append(f"{where}: {url} is not the mlflow server ({sorted(service_urls)})")
    if host_refused(hosts, url):
        problems.append(
            f"{where}: the server refuses Host {urlsplit(url).netloc} (--allowed-hosts)"
        )
    return problems


# --------------------------------------------------------------------------- docker compose


def _env(service: Mapping[str, Any]) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {k: str(v) for k, v in raw.items()}


def _depends(service: Mapping[str, Any]) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {k: (v or {}).get("condition", "service_started") for k, v in deps.items()}


def compose_mlflow_problems(raw: Mapping[str, Any], compose: Mapping[str, Any]) -> list[str]:
    """`raw`: docker-compose.yml as written; `compose`: interpolated."""
    services = compose["services"]
    mlflow = services.get("mlflow")
    if mlflow is None:
        return ["compose: no mlflow service (the trainer's model registry)"]
    where = "compose mlflow"
    problems: list[str] = []
    build = mlflow.get("build") or {}
    if str(build.get("context", "")).strip("./") != "deploy/mlflow" or build.get("dockerfile"):
        problems.append(f"{where}: must build deploy/mlflow (its Dockerfile)")
    env = _env(mlflow)
    volumes = {
        str(v).split(":")[1]: str(v).split(":")[0]
        for v in mlflow.get("volumes", [])
        if ":" in str(v)
    }
    named = {target for target, source in volumes.items() if not source.startswith((".", "/"))}
    problems += command_problems(where, mlflow.get("command") or [], env, artifact_mounts=named)

    # The database: the compose PostgreSQL's, its password the one required variable.
    raw_store = str(_env(raw["services"]["mlflow"]).get("MLFLOW_BACKEND_STORE_URI", ""))
    if "${POSTGRES_PASSWORD:?" not in raw_store:
        problems.append(f"{where}: the database password must be ${{POSTGRES_PASSWORD:?…}}")
    store = urlsplit(env.get("MLFLOW_BACKEND_STORE_URI", ""))
    if (store.hostname, store.username) != ("postgres", "statmuse"):
        problems.append(f"{where}: the database is not the compose postgres's, as statmuse")
    creators = [
        name
        for name, svc in services.items()
        if str(svc.get("restart", "no")) == "no"
        and "CREATE DATABASE mlflow" in " ".join(map(str, svc.get("command") or []))
    ]
    deps = _depends(mlflow)
    if not creators:
        problems.append("compose: nothing creates the database mlflow")
    elif not any(deps.get(c) == "service_completed_successfully" for c in creators):
        problems.append(f"{where}: does not wait for {creators[0]} (the database)")
    if deps.get("postgres") != "service_healthy":
        problems.append(f"{where}: does not wait for postgres")

    # Like the other long-running containers: healthy on /health, restarted, locked down.
    test = " ".join(map(str, (mlflow.get("healthcheck") or {}).get("test") or []))
    if not re.search(r"127\.0\.0\.1:5000/health\b", test):
        problems.append(f"{where}: no healthcheck on /health")
    if mlflow.get("restart") not in ("unless-stopped", "always"):
        problems.append(f"{where}: not restarted")
    if mlflow.get("read_only") is not True or mlflow.get("cap_drop") != ["ALL"]:
        problems.append(f"{where}: root filesystem must be read-only and capabilities dropped")
    for port in mlflow.get("ports", []):
        if not str(port).startswith("127.0.0.1:"):
            problems.append(f"{where}: port {port} is open beyond this machine's loopback")

    # No login: only the trainer (and PostgreSQL, and the job creating its database) share a
    # network with it; the gateway, facing the internet, must not reach it.
    mine = set(mlflow.get("networks") or ["default"])
    reach = sorted(
        name
        for name, svc in services.items()
        if name != "mlflow" and mine & set(svc.get("networks") or ["default"])
    )
    if "default" in mine or not set(reach) <= {"trainer", "postgres", "mlflow-db"}:
        problems.append(f"{where}: reachable by {reach} (only the trainer may reach it)")
    if "trainer" not in reach:
        problems.append(f"{where}: the trainer shares no network with it")

    # Its clients: the trainer (waits for it) and the gateway's links to the UI.
    hosts = allowed_hosts(server_options(mlflow.get("command") or []) or {}, env)
    trainer = services.get("trainer") or {}
    problems += client_problems(
        "compose trainer: MLFLOW_TRACKING_URI",
        _env(trainer).get("MLFLOW_TRACKING_URI"),
        hosts=hosts,
        service_urls={"http://mlflow:5000"},
    )
    if _depends(trainer).get("mlflow") != "service_healthy":
        problems.append("compose trainer: does not wait for mlflow to be healthy")
    published = {
        f"http://localhost:{p.split(':')[1]}"
        for p in map(str, mlflow.get("ports", []))
        if p.count(":") == 2 and p.split(":")[2] == "5000"
    }
    problems += client_problems(
        "compose gateway: MLFLOW_UI_URL",
        _env(services.get("gateway") or {}).get("MLFLOW_UI_URL"),
        hosts=hosts,
        service_urls=published,
    )
    return problems


# --------------------------------------------------------------------------- Kubernetes


def _pod(doc: dict[str, Any]) -> dict[str, Any]:
    spec = doc["spec"]
    if doc["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return dict(spec["template"])


def _env_value(item: dict[str, Any], configmaps: dict[str, dict[str, Any]]) -> str | None:
    if "value" in item:
        return str(item["value"])
    ref = (item.get("valueFrom") or {}).get("configMapKeyRef")
    if ref:
        value = (configmaps.get(ref["name"], {}).get("data") or {}).get(ref["key"])
        return None if value is None else str(value)
    return None


def k8s_mlflow_problems(docs: list[dict[str, Any]]) -> list[str]:
    deployments = by_kind(docs, "Deployment")
    configmaps = by_kind(docs, "ConfigMap")
    dep = deployments.get("mlflow")
    if dep is None:
        return ["k8s: no Deployment mlflow (the trainer's model registry)"]
    where = "k8s Deployment mlflow"
    problems: list[str] = []
    pod = _pod(dep)
    spec = pod["spec"]
    c = spec["containers"][0]
    if c.get("image", "").split(":")[0] != "statmuse/mlflow":
        problems.append(f"{where}: image {c.get('image')}, want statmuse/mlflow")
    env_items = {e["name"]: e for e in c.get("env", [])}
    env = {n: v for n, e in env_items.items() if (v := _env_value(e, configmaps)) is not None}
    store_ref = (env_items.get("MLFLOW_BACKEND_STORE_URI", {}).get("valueFrom") or {}).get(
        "secretKeyRef"
    )
    if store_ref != {"name": "statmuse-mlflow", "key": "MLFLOW_BACKEND_STORE_URI"}:
        problems.append(
            f"{where}: MLFLOW_BACKEND_STORE_URI must come from the Secret statmuse-mlflow"
        )
    if c.get("envFrom"):
        problems.append(f"{where}: takes whole ConfigMaps or Secrets (envFrom): name what it reads")
    secret = read_env_file(ROOT / "deploy/k8s/mlflow.env.example")
    env["MLFLOW_BACKEND_STORE_URI"] = secret.get("MLFLOW_BACKEND_STORE_URI", "")
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    claimed = {
        m["mountPath"]
        for m in c.get("volumeMounts", [])
        if "persistentVolumeClaim" in volumes.get(m["name"], {})
    }
    problems += command_problems(where, c.get("command") or [], env, artifact_mounts=claimed)
    claims = by_kind(docs, "PersistentVolumeClaim")
    for v in volumes.values():
        name = (v.get("persistentVolumeClaim") or {}).get("claimName")
        if name and name not in claims:
            problems.append(f"{where}: volume claim {name} is not in deploy/k8s")

    ports = {p.get("name", ""): p["containerPort"] for p in c.get("ports", [])}
    for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
        probe = (c.get(kind) or {}).get("httpGet") or {}
        if (
            probe.get("path") != "/health"
            or ports.get(probe.get("port"), probe.get("port")) != 5000
        ):
            problems.append(f"{where}: {kind} must GET /health on port 5000")
    sc = spec.get("securityContext", {})
    if not sc.get("runAsNonRoot") or sc.get("runAsUser", 0) == 0:
        problems.append(f"{where}: must run as non-root")
    csc = c.get("securityContext", {})
    if not csc.get("readOnlyRootFilesystem") or csc.get("capabilities", {}).get("drop") != ["ALL"]:
        problems.append(f"{where}: root filesystem must be read-only and capabilities dropped")
    resources = c.get("resources", {})
    if "memory" not in resources.get("requests", {}) or "memory" not in resources.get("limits", {}):
        problems.append(f"{where}: needs a memory request and limit")

    # The Service, and the trainer's pods pointed at it through their configMapKeyRef.
    labels = pod["metadata"]["labels"]
    services = [
        s
        for s in by_kind(docs, "Service").values()
        if (s["spec"].get("selector") or {"-": "-"}).items() <= labels.items()
    ]
    urls = {
        f"http://{s['metadata']['name']}:{p['port']}"
        for s in services
        for p in s["spec"]["ports"]
        if ports.get(p.get("targetPort"), p.get("targetPort")) == 5000
    }
    if not urls:
        problems.append("k8s: no Service routes to mlflow's port 5000")
    hosts = allowed_hosts(server_options(c.get("command") or []) or {}, env)
    trainers = [
        d
        for d in [*deployments.values(), *by_kind(docs, "CronJob").values()]
        if _pod(d)["spec"]["containers"][0].get("image") == "statmuse/trainer"
    ]
    for doc in trainers:
        tc = _pod(doc)["spec"]["containers"][0]
        item = {e["name"]: e for e in tc.get("env", [])}.get("MLFLOW_TRACKING_URI", {})
        problems += client_problems(
            f"k8s {doc['kind']} {doc['metadata']['name']}: MLFLOW_TRACKING_URI",
            _env_value(item, configmaps),
            hosts=hosts,
            service_urls=urls,
        )
    gateway = deployments.get("gateway")
    if gateway is not None:
        gc = _pod(gateway)["spec"]["containers"][0]
        item = {e["name"]: e for e in gc.get("env", [])}.get("MLFLOW_UI_URL", {})
        # The UI through `kubectl port-forward svc/mlflow 5000:5000`.
        problems += client_problems(
            "k8s Deployment gateway: MLFLOW_UI_URL",
            _env_value(item, configmaps),
            hosts=hosts,
            service_urls=set(),
        )
    problems += mlflow_network_problems(docs, labels)
    problems += mlflow_secret_problems()
    return problems


def mlflow_network_problems(docs: list[dict[str, Any]], labels: Mapping[str, str]) -> list[str]:
    """Only the trainer's pods reach mlflow: every rule of every policy that selects it names
    pods of this namespace, none but the trainer's, and one lets the trainer in on 5000."""
    problems: list[str] = []
    pods = [
        _pod(d)["metadata"]["labels"]
        for d in docs
        if d.get("kind") in ("Deployment", "CronJob", "Job", "StatefulSet")
    ]
    rules = [
        rule
        for p in by_kind(docs, "NetworkPolicy").values()
        if selects(p["spec"].get("podSelector", {}), labels)
        for rule in p["spec"].get("ingress", [])
    ]
    for rule in rules:
        sources = rule.get("from")
        if not sources:
            problems.append("k8s NetworkPolicy: mlflow is open to every source")
            continue
        for source in sources:
            if "ipBlock" in source or "namespaceSelector" in source or "podSelector" not in source:
                problems.append("k8s NetworkPolicy: mlflow is open beyond this namespace's pods")
                continue
            for pod_labels in pods:
                name = pod_labels.get("app.kubernetes.io/name")
                if name not in TRAINER_PODS and selects(source["podSelector"], pod_labels):
                    problems.append(f"k8s NetworkPolicy: {name} may reach mlflow")
    for name in sorted(TRAINER_PODS):
        if not any(
            selects(s["podSelector"], {"app.kubernetes.io/name": name})
            and any(p.get("port") in (5000, "http") for p in rule.get("ports", []))
            for rule in rules
            for s in rule.get("from") or []
            if "podSelector" in s and "namespaceSelector" not in s
        ):
            problems.append(f"k8s NetworkPolicy: nothing lets {name} reach mlflow on 5000")
    return problems


def mlflow_secret_problems() -> list[str]:
    """The database URL's Secret is generated from mlflow.env, which git ignores; the example
    holds a placeholder password only."""
    problems = []
    k = load_yaml(ROOT / "deploy/k8s/kustomization.yaml")
    generated = {g["name"]: g.get("envs", []) for g in k.get("secretGenerator", [])}
    if generated.get("statmuse-mlflow") != ["mlflow.env"]:
        problems.append(
            "kustomization: the Secret statmuse-mlflow is not generated from mlflow.env"
        )
    ignored = (ROOT / "deploy/k8s/.gitignore").read_text().split()
    if "mlflow.env" not in ignored:
        problems.append("deploy/k8s/.gitignore: mlflow.env (the real secret) is not ignored")
    example = read_env_file(ROOT / "deploy/k8s/mlflow.env.example")
    password = urlsplit(example.get("MLFLOW_BACKEND_STORE_URI", "")).password
    if password != "changeme":
        problems.append("mlflow.env.example: the password must be the placeholder changeme")
    return problems
