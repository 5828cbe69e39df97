"""Test fixtures that hand a test real PostgreSQL, Redis and a Kafka-protocol broker.

Where a Docker engine answers, testcontainers runs the production images (PostgreSQL, Redis,
Apache Kafka). Where none does (this machine, CI here), the same pip-installed servers that
`statmuse up` uses start once per session in a temporary folder. Isolation is per test: a
fresh database per test, uuid topic and group names.
"""

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

REPO = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Infra:
    database_url: str  # admin database; tests get their own via `database_url`
    redis_url: str
    kafka_bootstrap: str
    flavour: str  # "testcontainers" | "embedded" | "environment"


def _docker_answers() -> bool:
    if os.environ.get("STATMUSE_TEST_NO_DOCKER"):
        return False
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


@contextlib.contextmanager
def _testcontainers() -> Iterator[Infra]:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer
    from testcontainers.redis import RedisContainer

    with (
        PostgresContainer("postgres:16-alpine", driver=None) as pg,
        RedisContainer("redis:7-alpine") as redis,
        KafkaContainer("confluentinc/cp-kafka:7.6.0").with_kraft() as kafka,
    ):
        yield Infra(
            database_url=pg.get_connection_url(),
            redis_url=f"redis://{redis.get_container_host_ip()}:{redis.get_exposed_port(6379)}/0",
            kafka_bootstrap=kafka.get_bootstrap_server(),
            flavour="testcontainers",
        )


@contextlib.contextmanager
def _embedded() -> Iterator[Infra]:
    from statmuse_ops.infra import start_broker, start_postgres, start_redis, stop

    root = Path(tempfile.mkdtemp(prefix="statmuse-test-"))
    started = []
    try:
        pg = start_postgres(root / "postgres", port=None)
        started.append(pg)
        redis = start_redis(root / "redis", port=None)
        started.append(redis)
        broker = start_broker(root / "broker", port=None)
        started.append(broker)
        yield Infra(pg.url, redis.url, broker.url, "embedded")
    finally:
        for s in reversed(started):
            stop(s)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    env = os.environ
    if env.get("TEST_DATABASE_URL") and env.get("TEST_KAFKA_BOOTSTRAP_SERVERS"):
        yield Infra(
            env["TEST_DATABASE_URL"],
            env.get("TEST_REDIS_URL", ""),
            env["TEST_KAFKA_BOOTSTRAP_SERVERS"],
            "environment",
        )
    elif _docker_answers():
        with _testcontainers() as found:
            yield found
    else:
        with _embedded() as found:
            yield found


@pytest.fixture
async def database_url(infra: Infra) -> AsyncIterator[str]:
    """A fresh, empty database for this test alone, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(infra.database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base, _, _ = infra.database_url.rpartition("/")
    yield f"{base}/{name}"
    admin = await asyncpg.connect(infra.database_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
def kafka_bootstrap(infra: Infra, tmp_path: Path) -> Iterator[str]:
    """A broker whose topics belong to this test alone, for code that publishes to the real
    topic names: a fresh in-memory broker when embedded (it starts in well under a second),
    the session broker otherwise."""
    if infra.flavour != "embedded":
        yield infra.kafka_bootstrap
        return
    from statmuse_ops.infra import start_broker, stop

    broker = start_broker(tmp_path / "broker", port=None)
    try:
        yield broker.url
    finally:
        stop(broker)


@pytest.fixture
def unique() -> str:
    """A short unique suffix for topic and group names, so tests never collide."""
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def _mlflow_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow store (SQLite, MLflow's own schema migrations applied once: ~5 s)."""
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(f"sqlite:///{path}", f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def mlflow_tracking_uri(
    _mlflow_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """A fresh MLflow tracking store and model registry for this test alone (real MLflow code
    on SQLite, in process), also in the environment the trainer's settings read."""
    path = tmp_path / "mlflow.db"
    shutil.copyfile(_mlflow_template, path)
    uri = f"sqlite:///{path}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("TRAINER_MLFLOW_ARTIFACT_LOCATION", (tmp_path / "mlartifacts").as_uri())
    return uri


@pytest.fixture(scope="module")
def mlflow_server(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `mlflow server` (as `statmuse up` starts it) on a database of its own, for the
    tests of one module; its URL."""
    from statmuse_ops.infra import start_mlflow, stop

    server = start_mlflow(
        tmp_path_factory.mktemp("mlflow"),
        database_url=infra.database_url,
        database=f"mlflow_{uuid.uuid4().hex[:12]}",
        port=None,
    )
    try:
        yield server.url
    finally:
        stop(server)
