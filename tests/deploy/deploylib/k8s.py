"""deploy/k8s: a Deployment per service with probes on the port it serves, KEDA on each worker's
own consumer group and topic (as its subscribers really use them), the gateway's HPA on CPU, a
PodDisruptionBudget per Deployment, the migrate Job, secrets only in the Secret, every required
setting supplied."""

import importlib
import importlib.metadata
import re
from collections.abc import Mapping
from functools import cache
from typing import Any

from deploylib.common import (
    ROOT,
    SERVICES,
    artifact_dir,
    build_settings,
    by_kind,
    env_problems,
    load_yaml,
    load_yaml_all,
    read_env_file,
    selects,
    settings_class,
    settings_of,
    uses,
)
from deploylib.mlflow import k8s_mlflow_problems
from statmuse_shared.contract import topics

# A per-process consumer group (`<svc>-models-<12 hex>`): every instance reads every model.
PER_INSTANCE_GROUP = re.compile(r".+-models-[0-9a-f]{12}$")
# Where a FastStream-native service registers the router of its subscribers and publishers.
ASYNCAPI_ENTRY_POINTS = "statmuse.asyncapi"


def load_k8s() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted((ROOT / "deploy/k8s").glob("*.yaml")):
        if path.name != "kustomization.yaml":
            docs.extend(load_yaml_all(path))
    return docs


# --------------------------------------------------------------------------- consumer groups


@cache
def subscriptions(service: str) -> frozenset[tuple[str, str]]:
    """(consumer group, topic) of every subscriber the service registers: the router it
    registers for the AsyncAPI document (every service registers one)."""
    from faststream.kafka import KafkaBroker

    broker = KafkaBroker("localhost:9092")  # never connected
    routers = [
        ep.load()()
        for ep in importlib.metadata.entry_points(group=ASYNCAPI_ENTRY_POINTS)
        if ep.name == service
    ]
    assert routers, f"{service} registers no router under {ASYNCAPI_ENTRY_POINTS}"
    for router in routers:
        broker.include_router(router)
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


# --------------------------------------------------------------------------- manifests


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
            ref = item["valueFrom"]["secretKeyRef"]
            values = kafka_secrets() if ref["name"] == "statmuse-kafka" else secrets
            env[item["name"]], source[item["name"]] = values.get(ref["key"], ""), "secret"
        elif "configMapKeyRef" in item.get("valueFrom", {}):
            ref = item["valueFrom"]["configMapKeyRef"]
            data = configmaps.get(ref["name"], {}).get("data") or {}
            env[item["name"]] = str(data.get(ref["key"], f"<missing {ref['name']}/{ref['key']}>"))
            source[item["name"]] = "configmap"
        else:
            env[item["name"]], source[item["name"]] = "from-ref", "configmap"
    return env, source


def secret_example() -> dict[str, str]:
    return read_env_file(ROOT / "deploy/k8s/secrets.env.example")


def kafka_secrets() -> dict[str, str]:
    """kafka.env.example (the Secret statmuse-kafka) with its placeholders replaced."""
    example = read_env_file(ROOT / "deploy/k8s/kafka.env.example")
    return {k: v.replace("changeme", f"Tq7-{k.lower()}") for k, v in example.items()}


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

    problems += network_problems(docs)
    problems += kafka_problems(docs)
    problems += k8s_mlflow_problems(docs)

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


def network_problems(docs: list[dict[str, Any]]) -> list[str]:
    """Only the gateway is reachable from outside (an Ingress with TLS to its Service, a
    policy from the ingress controller); every pod is under a default-deny policy; the other
    services accept only Prometheus, and only on their own port."""
    problems: list[str] = []
    policies = list(by_kind(docs, "NetworkPolicy").values())
    if not any(
        p["spec"].get("podSelector") == {}
        and "Ingress" in p["spec"].get("policyTypes", [])
        and not p["spec"].get("ingress")
        for p in policies
    ):
        problems.append("k8s: no default-deny NetworkPolicy for ingress")
    ingresses = list(by_kind(docs, "Ingress").values())
    backends = {
        path["backend"]["service"]["name"]
        for ing in ingresses
        for rule in ing["spec"].get("rules", [])
        for path in rule.get("http", {}).get("paths", [])
    }
    if backends != {"gateway"}:
        problems.append(f"k8s Ingress: routes to {sorted(backends)}, want the gateway only")
    for ing in ingresses:
        hosts = {h for rule in ing["spec"].get("rules", []) for h in [rule.get("host")]}
        tls_hosts = {h for t in ing["spec"].get("tls", []) for h in t.get("hosts", [])}
        if not ing["spec"].get("tls") or not hosts <= tls_hosts:
            problems.append(f"k8s Ingress {ing['metadata']['name']}: every host needs TLS")
    for service in SERVICES:
        dep = by_kind(docs, "Deployment").get(service)
        if dep is None:
            continue
        labels = dep["spec"]["template"]["metadata"]["labels"]
        allowed = [
            rule
            for p in policies
            if selects(p["spec"].get("podSelector", {}), labels)
            for rule in p["spec"].get("ingress", [])
        ]
        for rule in allowed:
            sources = rule.get("from")
            if not sources:
                problems.append(f"k8s NetworkPolicy: {service} is open to every source")
                continue
            for source in sources:
                if "ipBlock" in source:
                    problems.append(f"k8s NetworkPolicy: {service} is open to an IP block")
                ns = (source.get("namespaceSelector") or {}).get("matchLabels", {})
                name = ns.get("kubernetes.io/metadata.name")
                if name == "ingress-nginx" and service != "gateway":
                    problems.append(f"k8s NetworkPolicy: {service} is reachable from the ingress")
                if "namespaceSelector" in source and name not in ("ingress-nginx", "monitoring"):
                    problems.append(f"k8s NetworkPolicy: {service} is open to other namespaces")
    # The databases the services use, when in the namespace, are not cut off by the deny.
    for name, port in (("postgresql", 5432), ("redis", 6379)):
        labels = {"app.kubernetes.io/name": name}
        if not any(
            selects(p["spec"].get("podSelector", {}), labels)
            and any(
                {"protocol": "TCP", "port": port} in rule.get("ports", [])
                for rule in p["spec"].get("ingress", [])
            )
            for p in policies
        ):
            problems.append(f"k8s NetworkPolicy: nothing lets the services reach {name}")
    return problems


def kafka_problems(docs: list[dict[str, Any]]) -> list[str]:
    """Each service logs in to the broker as its own user, with only its own password; KEDA
    reads the lag as that user; the kafka-acls Job runs the generated ACLs."""
    from statmuse_shared.contract import acls

    problems: list[str] = []
    deployments = by_kind(docs, "Deployment")
    for service in SERVICES:
        dep = deployments.get(service)
        if dep is None:
            continue
        env = {e["name"]: e for e in _container(dep).get("env", [])}
        if env.get("KAFKA_USERNAME", {}).get("value") != service:
            problems.append(f"k8s Deployment {service}: not logged in to the broker as {service}")
        ref = env.get("KAFKA_PASSWORD", {}).get("valueFrom", {}).get("secretKeyRef", {})
        if ref != {"name": "statmuse-kafka", "key": f"KAFKA_{service.upper()}_PASSWORD"}:
            problems.append(f"k8s Deployment {service}: KAFKA_PASSWORD is not its own")
    auths = by_kind(docs, "TriggerAuthentication")
    for scaled in by_kind(docs, "ScaledObject").values():
        worker = scaled["spec"]["scaleTargetRef"]["name"]
        for trigger in scaled["spec"].get("triggers", []):
            name = (trigger.get("authenticationRef") or {}).get("name")
            if trigger["metadata"].get("sasl") != "scram_sha512" or name not in auths:
                problems.append(f"k8s ScaledObject {worker}: reads the lag without logging in")
                continue
            params = {e["parameter"]: e for e in auths[name]["spec"].get("env", [])}
            if {p.get("containerName") for p in params.values()} != {worker} or set(params) != {
                "username",
                "password",
            }:
                problems.append(f"k8s TriggerAuthentication {name}: not {worker}'s own login")
    jobs = [j for j in by_kind(docs, "Job").values() if j["metadata"]["name"].endswith("acls")]
    script = " ".join(str(a) for j in jobs for a in _container(j).get("args", []))
    if not jobs or "/acls/kafka-acls.sh" not in script:
        problems.append("k8s: no Job runs kafka-acls.sh")
    missing = (
        set(acls.users())
        - {acls.EXPORTER}
        - set(script.split())
        - {u for u in SERVICES if "for user in" in script and u in script}
    )
    if missing:
        problems.append(f"k8s kafka-acls Job: no broker user for {sorted(missing)}")
    return problems


def kustomization_problems() -> list[str]:
    k = load_yaml(ROOT / "deploy/k8s/kustomization.yaml")
    listed = set(k.get("resources", []))
    present = {p.name for p in (ROOT / "deploy/k8s").glob("*.yaml")} - {"kustomization.yaml"}
    problems = [f"kustomization: {r} is listed but missing" for r in sorted(listed - present)]
    problems += [f"kustomization: {r} is not listed" for r in sorted(present - listed)]
    generated = [g["name"] for g in k.get("secretGenerator", [])]
    for name in ("statmuse-secrets", "statmuse-kafka"):
        if name not in generated:
            problems.append(f"kustomization: no secretGenerator for {name}")
    maps = {g["name"]: g.get("files", []) for g in k.get("configMapGenerator", [])}
    if maps.get("statmuse-kafka-acls") != ["kafka-acls.sh"]:
        problems.append("kustomization: the ACL script is not the statmuse-kafka-acls ConfigMap")
    return problems
