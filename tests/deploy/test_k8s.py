"""deploy/k8s, statically: a Deployment per service with probes on the port it serves, KEDA on
each worker's own consumer group and topic, the gateway's HPA on CPU, a PodDisruptionBudget per
Deployment, the migrate Job, secrets only in the Secret, every required setting supplied."""

import copy
from typing import Any

import pytest
from deploylib.common import ROOT, build_settings, load_yaml, settings_class
from deploylib.k8s import (
    by_kind,
    filled_secrets,
    k8s_problems,
    kustomization_problems,
    secret_example,
)
from deploylib.mlflow import mlflow_secret_problems


def test_k8s(k8s: list[dict[str, Any]]) -> None:
    assert k8s_problems(k8s, filled_secrets()) == []


def test_kustomization_lists_every_manifest() -> None:
    assert kustomization_problems() == []


def test_the_example_secret_would_be_refused() -> None:
    """Deploying secrets.env.example unchanged fails loudly instead of running on a placeholder."""
    with pytest.raises(ValueError, match="placeholder"):
        build_settings(
            settings_class("gateway"), {**secret_example(), "STATMUSE_ENV": "production"}
        )


def _edit(docs: list[dict[str, Any]], kind: str, name: str, change: Any) -> list[dict[str, Any]]:
    out = copy.deepcopy(docs)
    change(by_kind(out, kind)[name])
    return out


def _container(doc: dict[str, Any]) -> dict[str, Any]:
    return dict(doc["spec"]["template"]["spec"]["containers"][0])


# The checks can fail: each broken copy of the real manifests is caught.
BROKEN = {
    "no-pdb": lambda d: [
        x
        for x in d
        if not (x["kind"] == "PodDisruptionBudget" and x["metadata"]["name"] == "trainer")
    ],
    "no-deployment": lambda d: [
        x for x in d if not (x["kind"] == "Deployment" and x["metadata"]["name"] == "features")
    ],
    "wrong-group": lambda d: _edit(
        d,
        "ScaledObject",
        "predictor",
        lambda s: s["spec"]["triggers"][0]["metadata"].update(consumerGroup="predictors"),
    ),
    "wrong-topic": lambda d: _edit(
        d,
        "ScaledObject",
        "features",
        lambda s: s["spec"]["triggers"][0]["metadata"].update(topic="nba.features.v2"),
    ),
    "too-many-replicas": lambda d: _edit(
        d, "ScaledObject", "features", lambda s: s["spec"].update(maxReplicaCount=12)
    ),
    "no-hpa": lambda d: [x for x in d if x["kind"] != "HorizontalPodAutoscaler"],
    "readiness-on-health": lambda d: _edit(
        d,
        "Deployment",
        "gateway",
        lambda x: x["spec"]["template"]["spec"]["containers"][0]["readinessProbe"][
            "httpGet"
        ].update(path="/health"),
    ),
    "wrong-port": lambda d: _edit(
        d,
        "Deployment",
        "predictor",
        lambda x: x["spec"]["template"]["spec"]["containers"][0]["ports"][0].update(
            containerPort=8100
        ),
    ),
    "secret-in-configmap": lambda d: _edit(
        d,
        "ConfigMap",
        "statmuse-config",
        lambda c: c["data"].update(DATABASE_URL="postgresql://statmuse:pw@db:5432/statmuse"),
    ),
    "misspelt-setting": lambda d: _edit(
        d,
        "Deployment",
        "ingestor",
        lambda x: x["spec"]["template"]["spec"]["containers"][0]["env"].append(
            {"name": "INGESTOR_SCHEDULE_DAYLY", "value": "true"}
        ),
    ),
    "no-secret": lambda d: _edit(
        d,
        "Deployment",
        "trainer",
        lambda x: x["spec"]["template"]["spec"]["containers"][0]["envFrom"].pop(),
    ),
    "no-migrate-job": lambda d: [x for x in d if x["kind"] != "Job"],
    "no-default-deny": lambda d: [x for x in d if x["metadata"]["name"] != "default-deny-ingress"],
    "ingress-without-tls": lambda d: _edit(d, "Ingress", "gateway", lambda i: i["spec"].pop("tls")),
    "ingress-to-a-worker": lambda d: _edit(
        d,
        "Ingress",
        "gateway",
        lambda i: i["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"].update(
            name="predictor"
        ),
    ),
    "worker-open-to-all": lambda d: [
        *d,
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "oops"},
            "spec": {
                "podSelector": {"matchLabels": {"app.kubernetes.io/name": "trainer"}},
                "policyTypes": ["Ingress"],
                "ingress": [{}],
            },
        },
    ],
    "kafka-user-of-another": lambda d: _edit(
        d,
        "Deployment",
        "predictor",
        lambda x: x["spec"]["template"]["spec"]["containers"][0]["env"][2].update(value="gateway"),
    ),
    "kafka-password-of-another": lambda d: _edit(
        d,
        "Deployment",
        "features",
        lambda x: x["spec"]["template"]["spec"]["containers"][0]["env"][3]["valueFrom"][
            "secretKeyRef"
        ].update(key="KAFKA_GATEWAY_PASSWORD"),
    ),
    "keda-without-login": lambda d: _edit(
        d, "ScaledObject", "trainer", lambda x: x["spec"]["triggers"][0].pop("authenticationRef")
    ),
    "postgres-cut-off": lambda d: [
        x for x in d if x["metadata"]["name"] != "postgres-from-services"
    ],
    "no-acl-job": lambda d: [x for x in d if x["metadata"]["name"] != "statmuse-kafka-acls"],
    "a-user-not-created": lambda d: _edit(
        d,
        "Job",
        "statmuse-kafka-acls",
        lambda j: j["spec"]["template"]["spec"]["containers"][0].update(
            args=[j["spec"]["template"]["spec"]["containers"][0]["args"][0].replace(" trainer", "")]
        ),
    ),
    "worker-behind-the-ingress": lambda d: _edit(
        d,
        "NetworkPolicy",
        "gateway-from-ingress",
        lambda p: p["spec"].update(podSelector={}),
    ),
}


@pytest.mark.parametrize("broken", sorted(BROKEN))
def test_broken_manifests_are_caught(k8s: list[dict[str, Any]], broken: str) -> None:
    assert k8s_problems(BROKEN[broken](k8s), filled_secrets())


def _mlflow(change: Any) -> Any:
    """A change to the mlflow Deployment's container."""
    return lambda d: _edit(
        d, "Deployment", "mlflow", lambda x: change(x["spec"]["template"]["spec"]["containers"][0])
    )


def _env_named(container: dict[str, Any], name: str) -> dict[str, Any]:
    return next(e for e in container["env"] if e["name"] == name)


def _trainer_policy_sources(values: list[str]) -> Any:
    return lambda d: _edit(
        d,
        "NetworkPolicy",
        "mlflow-from-trainer",
        lambda p: p["spec"]["ingress"][0]["from"][0]["podSelector"]["matchExpressions"][0].update(
            values=values
        ),
    )


# The MLflow checks can fail: each broken copy is caught, with the problem it names.
MLFLOW_BROKEN = {
    "no-mlflow": (
        lambda d: [x for x in d if x["metadata"]["name"] != "mlflow"],
        "no Deployment mlflow",
    ),
    "liveness-elsewhere": (
        _mlflow(lambda c: c["livenessProbe"]["httpGet"].update(path="/")),
        "livenessProbe must GET /health",
    ),
    "no-readiness": (_mlflow(lambda c: c.pop("readinessProbe")), "readinessProbe"),
    "writable-root": (
        _mlflow(lambda c: c["securityContext"].update(readOnlyRootFilesystem=False)),
        "read-only",
    ),
    "no-memory-limit": (_mlflow(lambda c: c["resources"].pop("limits")), "memory"),
    "database-url-in-the-manifest": (
        _mlflow(
            lambda c: _env_named(c, "MLFLOW_BACKEND_STORE_URI").update(
                value="postgresql+psycopg://statmuse:pw@postgres:5432/mlflow", valueFrom=None
            )
        ),
        "must come from the Secret statmuse-mlflow",
    ),
    "database-url-on-the-command-line": (
        _mlflow(lambda c: c["command"].append("--backend-store-uri=$(MLFLOW_BACKEND_STORE_URI)")),
        "in the command line",
    ),
    "default-allowed-hosts": (
        _mlflow(
            lambda c: c["command"].remove("--allowed-hosts=mlflow:5000,localhost:*,127.0.0.1:*")
        ),
        "refuses Host mlflow:5000",
    ),
    "artifacts-on-the-pod": (
        _mlflow(lambda c: c["volumeMounts"].pop()),
        "is not on a volume",
    ),
    "job-runner-on": (
        _mlflow(lambda c: _env_named(c, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION").update(value="true")),
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION",
    ),
    "no-service": (
        lambda d: [
            x for x in d if not (x["kind"] == "Service" and x["metadata"]["name"] == "mlflow")
        ],
        "no Service routes to mlflow",
    ),
    "trainer-without-tracking-uri": (
        lambda d: _edit(
            d,
            "Deployment",
            "trainer",
            lambda x: x["spec"]["template"]["spec"]["containers"][0]["env"].remove(
                _env_named(x["spec"]["template"]["spec"]["containers"][0], "MLFLOW_TRACKING_URI")
            ),
        ),
        "Deployment trainer: MLFLOW_TRACKING_URI: no MLflow URL",
    ),
    "training-job-without-tracking-uri": (
        lambda d: _edit(
            d,
            "CronJob",
            "statmuse-train",
            lambda x: x["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0][
                "env"
            ].pop(),
        ),
        "CronJob statmuse-train: MLFLOW_TRACKING_URI: no MLflow URL",
    ),
    "tracking-uri-refused": (
        lambda d: _edit(
            d,
            "ConfigMap",
            "statmuse-mlflow-urls",
            lambda c: c["data"].update(MLFLOW_TRACKING_URI="http://mlflow.statmuse.svc:5000"),
        ),
        "refuses Host mlflow.statmuse.svc:5000",
    ),
    "gateway-may-reach-it": (
        _trainer_policy_sources(["trainer", "train", "gateway"]),
        "gateway may reach mlflow",
    ),
    "trainer-cut-off": (
        _trainer_policy_sources(["train"]),
        "nothing lets trainer reach mlflow",
    ),
    "open-to-every-source": (
        lambda d: _edit(
            d, "NetworkPolicy", "mlflow-from-trainer", lambda p: p["spec"]["ingress"][0].pop("from")
        ),
        "mlflow is open to every source",
    ),
    "open-to-another-namespace": (
        lambda d: _edit(
            d,
            "NetworkPolicy",
            "mlflow-from-trainer",
            lambda p: p["spec"]["ingress"][0]["from"].append(
                {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "other"}}}
            ),
        ),
        "open beyond this namespace's pods",
    ),
}


@pytest.mark.parametrize("broken", sorted(MLFLOW_BROKEN))
def test_a_broken_mlflow_deployment_is_caught(k8s: list[dict[str, Any]], broken: str) -> None:
    change, problem = MLFLOW_BROKEN[broken]
    found = k8s_problems(change(k8s), filled_secrets())
    assert any(problem in p for p in found), found


def test_mlflow_secret_stays_out_of_git() -> None:
    """Its database URL comes from mlflow.env (git ignores it) through the kustomization's
    generator; the committed example has the placeholder password only."""
    assert mlflow_secret_problems() == []
    assert "mlflow.yaml" in load_yaml(ROOT / "deploy/k8s/kustomization.yaml")["resources"]
