"""docker-compose.yml, statically: healthchecks everywhere, dependents wait on health, every
image built from the Dockerfile with the build arguments that make the right image, every
service given every setting its Settings class requires (and none it does not know), Kafka in
KRaft mode with every topic, Prometheus and Grafana wired."""

import copy
from typing import Any

import pytest
import yaml
from deploylib.common import SERVICES, without, yaml_files
from deploylib.compose import COMPOSE_ENV, compose_problems, interpolate


@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: p.name)
def test_every_yaml_file_parses(path: Any) -> None:
    assert list(yaml.safe_load_all(path.read_text()))


def test_compose(compose: dict[str, Any]) -> None:
    assert compose_problems(compose) == []


@pytest.mark.parametrize("variable", sorted(COMPOSE_ENV))
def test_secrets_have_no_default(compose: dict[str, Any], variable: str) -> None:
    env = {k: v for k, v in COMPOSE_ENV.items() if k != variable}
    with pytest.raises(KeyError, match=variable):
        interpolate(compose, env)


def _set(
    compose: dict[str, Any], service: str, where: tuple[str, ...], name: str, value: str | None
) -> dict[str, Any]:
    """A copy of `compose` with `name` under the service's `where` set to `value` (None: gone)."""
    out = copy.deepcopy(compose)
    node = out["services"][service]
    for key in where:
        node = node[key]
    if value is None:
        del node[name]
    else:
        node[name] = value
    return out


def _set_env(compose: dict[str, Any], service: str, name: str, value: str | None) -> dict[str, Any]:
    return _set(compose, service, ("environment",), name, value)


def _set_arg(compose: dict[str, Any], service: str, name: str, value: str | None) -> dict[str, Any]:
    return _set(compose, service, ("build", "args"), name, value)


# The checks can fail: each broken copy of the real file is caught.
@pytest.mark.parametrize(
    "broken",
    [
        pytest.param(
            lambda c: without(c, "services", "postgres", "healthcheck"), id="no-healthcheck"
        ),
        pytest.param(
            lambda c: without(c, "services", "kafka-exporter", "healthcheck"),
            id="no-exporter-healthcheck",
        ),
        pytest.param(
            lambda c: _set_env(c, "gateway", "GATEWAY_RATE_LIMT_PER_MINUTE", "5"),
            id="misspelt-setting",
        ),
        pytest.param(
            lambda c: _set_env(c, "predictor", "DATABASE_URL", None), id="missing-required"
        ),
        pytest.param(
            lambda c: _set_env(c, "features", "FEATURES_MAX_BATCH", "many"), id="bad-value"
        ),
        pytest.param(
            lambda c: _set_env(c, "trainer", "STATMUSE_ENV", "development"), id="not-production"
        ),
        pytest.param(
            lambda c: without(c, "services", "gateway", "depends_on", "redis"), id="no-redis-wait"
        ),
        pytest.param(
            lambda c: {
                **c,
                "services": {
                    **c["services"],
                    "ingestor": {
                        **c["services"]["ingestor"],
                        "build": {"context": ".", "dockerfile": "services/features/Dockerfile"},
                    },
                },
            },
            id="wrong-dockerfile",
        ),
        pytest.param(lambda c: _set_arg(c, "ingestor", "SERVICE", "features"), id="wrong-image"),
        pytest.param(lambda c: _set_arg(c, "migrate", "SERVICE", "gateway"), id="migrate-image"),
        pytest.param(lambda c: _set_arg(c, "predictor", "PORT", "8100"), id="wrong-port-arg"),
        pytest.param(lambda c: _set_arg(c, "features", "PORT", None), id="missing-port-arg"),
        pytest.param(
            lambda c: _set_arg(c, "gateway", "SETTINGS_PREFIX", "GATEWY_"), id="wrong-prefix-arg"
        ),
        pytest.param(
            lambda c: _set_arg(c, "gateway", "OWNED_DIRS", "/var/lib/statmuse/artifacts"),
            id="volume-dir-not-owned",
        ),
        pytest.param(
            lambda c: {
                **c,
                "services": {
                    **c["services"],
                    "kafka-init": {
                        **c["services"]["kafka-init"],
                        "command": [
                            c["services"]["kafka-init"]["command"][0].replace(
                                " nba.models.commands.v1", ""
                            )
                        ],
                    },
                },
            },
            id="topic-not-created",
        ),
        pytest.param(
            lambda c: {
                **c,
                "services": {
                    **c["services"],
                    "predictor": {**c["services"]["predictor"], "volumes": []},
                },
            },
            id="no-artifact-volume",
        ),
        pytest.param(
            lambda c: _set_env(c, "predictor", "KAFKA_USERNAME", "gateway"),
            id="kafka-user-of-another-service",
        ),
        pytest.param(
            lambda c: _set_env(c, "trainer", "KAFKA_SECURITY_PROTOCOL", "PLAINTEXT"),
            id="kafka-without-sasl",
        ),
        pytest.param(
            lambda c: _set_env(c, "kafka", "KAFKA_AUTHORIZER_CLASS_NAME", None),
            id="kafka-without-acls",
        ),
        pytest.param(
            lambda c: _set_env(c, "kafka", "KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND", "true"),
            id="kafka-allows-everyone",
        ),
        pytest.param(
            lambda c: _set_env(
                c, "kafka", "KAFKA_LISTENERS", "SASL_PLAINTEXT://:9092,CONTROLLER://:9093"
            ),
            id="controller-on-the-network",
        ),
        pytest.param(
            lambda c: _set(
                c,
                "kafka-init",
                (),
                "command",
                [c["services"]["kafka-init"]["command"][0].replace("bash /acls/acls.sh", "true")],
            ),
            id="acls-not-added",
        ),
        pytest.param(
            lambda c: _set(
                c,
                "kafka",
                (),
                "command",
                [c["services"]["kafka"]["command"][0].replace("user_trainer=", "user_trainr=")],
            ),
            id="kafka-user-unknown-to-the-broker",
        ),
    ],
)
def test_a_broken_compose_file_is_caught(compose: dict[str, Any], broken: Any) -> None:
    assert compose_problems(broken(compose))


def _mlflow_command(compose: dict[str, Any], old: str, new: str | None) -> dict[str, Any]:
    """A copy with the mlflow server's argument `old` replaced by `new` (None: removed)."""
    command = compose["services"]["mlflow"]["command"]
    assert old in command
    changed = (
        [a for a in command if a != old]
        if new is None
        else [new if a == old else a for a in command]
    )
    return _set(compose, "mlflow", (), "command", changed)


# The MLflow checks can fail: each broken copy is caught, with the problem it names.
MLFLOW_BROKEN = {
    "no-mlflow": (lambda c: without(c, "services", "mlflow"), "no mlflow service"),
    "no-healthcheck": (
        lambda c: without(c, "services", "mlflow", "healthcheck"),
        "no healthcheck on /health",
    ),
    "not-restarted": (lambda c: without(c, "services", "mlflow", "restart"), "not restarted"),
    "on-the-default-network": (
        lambda c: without(c, "services", "mlflow", "networks"),
        "only the trainer may reach it",
    ),
    "gateway-on-its-network": (
        lambda c: _set(c, "gateway", (), "networks", ["default", "registry"]),
        "only the trainer may reach it",
    ),
    "trainer-cut-off": (
        lambda c: without(c, "services", "trainer", "networks"),
        "the trainer shares no network with it",
    ),
    "writable-root": (lambda c: without(c, "services", "mlflow", "read_only"), "read-only"),
    "ui-on-every-interface": (
        lambda c: _set(c, "mlflow", (), "ports", ["5000:5000"]),
        "open beyond this machine's loopback",
    ),
    "default-allowed-hosts": (
        lambda c: _mlflow_command(c, "--allowed-hosts=mlflow:5000,localhost:*,127.0.0.1:*", None),
        "refuses Host mlflow:5000",
    ),
    "browser-refused": (
        lambda c: _mlflow_command(
            c, "--allowed-hosts=mlflow:5000,localhost:*,127.0.0.1:*", "--allowed-hosts=mlflow:5000"
        ),
        "refuses Host localhost:5000",
    ),
    "artifacts-not-served": (
        lambda c: _mlflow_command(c, "--serve-artifacts", "--no-serve-artifacts"),
        "artifacts are not served",
    ),
    "artifacts-off-the-volume": (
        lambda c: _mlflow_command(
            c,
            "--artifacts-destination=file:///var/lib/mlflow/artifacts",
            "--artifacts-destination=file:///tmp/artifacts",
        ),
        "is not on a volume",
    ),
    "default-workers": (lambda c: _mlflow_command(c, "--workers=2", None), "--workers"),
    "job-runner-on": (
        lambda c: _set_env(c, "mlflow", "MLFLOW_SERVER_ENABLE_JOB_EXECUTION", None),
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION",
    ),
    "password-with-a-default": (
        lambda c: _set_env(
            c,
            "mlflow",
            "MLFLOW_BACKEND_STORE_URI",
            "postgresql+psycopg://statmuse:${POSTGRES_PASSWORD:-statmuse}@postgres:5432/mlflow",
        ),
        "POSTGRES_PASSWORD:?",
    ),
    "services-database": (
        lambda c: _set_env(
            c,
            "mlflow",
            "MLFLOW_BACKEND_STORE_URI",
            "postgresql+psycopg://statmuse:${POSTGRES_PASSWORD:?x}@postgres:5432/statmuse",
        ),
        "the database mlflow",
    ),
    "database-never-created": (
        lambda c: without(c, "services", "mlflow-db"),
        "nothing creates the database mlflow",
    ),
    "started-before-its-database": (
        lambda c: without(c, "services", "mlflow", "depends_on", "mlflow-db"),
        "does not wait for mlflow-db",
    ),
    "trainer-without-tracking-uri": (
        lambda c: _set_env(c, "trainer", "MLFLOW_TRACKING_URI", None),
        "no MLflow URL",
    ),
    "trainer-on-its-own-loopback": (
        lambda c: _set_env(c, "trainer", "MLFLOW_TRACKING_URI", "http://127.0.0.1:5000"),
        "is not the mlflow server",
    ),
    "trainer-not-waiting": (
        lambda c: without(c, "services", "trainer", "depends_on", "mlflow"),
        "does not wait for mlflow",
    ),
    "gateway-links-elsewhere": (
        lambda c: _set_env(c, "gateway", "MLFLOW_UI_URL", "http://localhost:5001"),
        "MLFLOW_UI_URL: http://localhost:5001 is not the mlflow server",
    ),
}


@pytest.mark.parametrize("broken", sorted(MLFLOW_BROKEN))
def test_a_broken_mlflow_service_is_caught(compose: dict[str, Any], broken: str) -> None:
    change, problem = MLFLOW_BROKEN[broken]
    found = compose_problems(change(compose))
    assert any(problem in p for p in found), found


def test_mlflow_database_password_is_required(compose: dict[str, Any]) -> None:
    env = {k: v for k, v in COMPOSE_ENV.items() if k != "POSTGRES_PASSWORD"}
    with pytest.raises(KeyError, match="POSTGRES_PASSWORD"):
        interpolate(compose["services"]["mlflow"], env)


def test_the_acls_follow_the_code() -> None:
    """Only the gateway may write the admin commands, and only the trainer read them; every
    service reads only the topics it subscribes to."""
    from statmuse_shared.contract import acls, topics

    rules = acls.service_acls()
    writers = {
        a.principal for a in rules if a.operation == "Write" and a.name == topics.MODEL_COMMANDS
    }
    readers = {
        a.principal for a in rules if a.operation == "Read" and a.name == topics.MODEL_COMMANDS
    }
    assert (writers, readers) == ({"gateway"}, {"trainer"})
    assert not [a for a in rules if a.name == "*" and a.operation != "Describe"]
    assert {a.principal for a in rules} == {*SERVICES, acls.EXPORTER}
