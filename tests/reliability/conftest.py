"""Fault tests: real processes against real servers, on loopback, each bounded in time.

A test that takes a server down owns that server: it starts its own PostgreSQL, Redis or
broker (the pip-installed ones `statmuse up` uses) in its temporary folder, never the session's
shared ones. Services run as `statmuse-<svc> serve` subprocesses, each in a session of its own,
and are killed in the fixture's `finally` whatever happened. Waits are polls with a deadline.
"""

import asyncio
import contextlib
import inspect
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord
from prometheus_client.parser import text_string_to_metric_families

from statmuse_ops.infra import LOOPBACK, free_port
from statmuse_shared.contract import topics
from statmuse_shared.platform.broker import ensure_topics

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data" / "nba"
MODELS = REPO / "models"
SEASON = "2023-24"


async def eventually(
    what: str,
    check: Callable[[], Any],
    *,
    deadline_s: float,
    interval_s: float = 0.05,
) -> Any:
    """Poll `check` until it returns something truthy and return that; TimeoutError (naming
    `what` and the last value or error) at the deadline."""
    deadline = time.monotonic() + deadline_s
    last: Any = None
    while True:
        try:
            value = check()
            if inspect.isawaitable(value):
                value = await value
            last = value
            if value:
                return value
        except (OSError, httpx.HTTPError) as exc:  # not up yet
            last = exc
        if time.monotonic() > deadline:
            raise TimeoutError(f"after {deadline_s:.0f}s still waiting for {what} (last: {last!r})")
        await asyncio.sleep(interval_s)


@dataclass
class Service:
    """One `statmuse-<name> serve` process."""

    name: str
    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


@dataclass
class Services:
    """Starts service processes; `close` kills whatever is still running."""

    root: Path
    env: dict[str, str] = field(default_factory=dict)  # infrastructure URLs for every service
    running: list[Service] = field(default_factory=list)

    def start(self, name: str, **extra_env: str) -> Service:
        port = free_port()
        exe = Path(sys.executable).with_name(f"statmuse-{name}")
        log = self.root / f"{name}-{len(self.running)}.log"
        env = {
            **os.environ,
            **self.env,
            **extra_env,
            "LOG_JSON": "true",
            "LOG_LEVEL": "INFO",
            f"{name.upper()}_HTTP_HOST": LOOPBACK,
        }
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                [str(exe), "serve", "--port", str(port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
                cwd=self.root,
            )
        service = Service(name, proc, f"http://{LOOPBACK}:{port}", log)
        self.running.append(service)
        return service

    async def ready(self, service: Service, *, deadline_s: float = 60) -> None:
        async def answers() -> bool:
            if not service.alive():
                raise AssertionError(f"{service.name} exited:\n{service.log_tail()}")
            async with httpx.AsyncClient(timeout=2) as client:
                return (await client.get(f"{service.url}/ready")).status_code == 200

        await eventually(f"{service.name} ready", answers, deadline_s=deadline_s, interval_s=0.1)

    @staticmethod
    def kill(service: Service) -> None:
        """kill -9, and reap it."""
        if service.alive():
            service.proc.send_signal(signal.SIGKILL)
        service.proc.wait(10)

    def close(self) -> None:
        for service in reversed(self.running):
            if service.alive():
                service.proc.terminate()
                try:
                    service.proc.wait(10)
                except subprocess.TimeoutExpired:
                    service.proc.kill()
                    service.proc.wait(10)


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    running = Services(tmp_path)
    try:
        yield running
    finally:
        running.close()


@contextlib.contextmanager
def owned(start: Callable[[], Any]) -> Iterator[Any]:
    """A server of this test's own (`statmuse_ops.infra.start_*`), stopped afterwards."""
    from statmuse_ops.infra import stop

    started = start()
    try:
        yield started
    finally:
        stop(started, timeout_s=10)


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Any]:
    """A broker for this test alone (its `Started` record: restartable on its port)."""
    from statmuse_ops.infra import start_broker

    with owned(lambda: start_broker(tmp_path / "broker", port=None)) as broker:
        yield broker


async def create_topics(bootstrap: str) -> None:
    await ensure_topics(bootstrap, topics.all_with_dead_letters())


async def metric(url: str, name: str, **labels: str) -> float:
    """The sum of a metric's samples (matching `labels`) on a service's /metrics."""
    async with httpx.AsyncClient(timeout=5) as client:
        text = (await client.get(f"{url}/metrics")).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


async def read_topic(
    bootstrap: str,
    topic: str | list[str],
    *,
    until: Callable[[list[ConsumerRecord[bytes, bytes]]], bool],
    deadline_s: float,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of `topic` (or topics) from the start, in a consumer group of its own,
    read until `until(records so far)` holds; AssertionError at the deadline."""
    names = [topic] if isinstance(topic, str) else topic
    consumer = AIOKafkaConsumer(
        *names,
        bootstrap_servers=bootstrap,
        group_id=f"reader-{uuid.uuid4().hex[:12]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    got: list[ConsumerRecord[bytes, bytes]] = []
    try:
        deadline = time.monotonic() + deadline_s
        while not until(got):
            if time.monotonic() > deadline:
                raise AssertionError(f"{topic}: only {len(got)} records after {deadline_s:.0f}s")
            for records in (await consumer.getmany(timeout_ms=200, max_records=5000)).values():
                got.extend(records)
    finally:
        await consumer.stop()
    return got


@contextlib.asynccontextmanager
async def producer(bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    p = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await p.start()
    try:
        yield p
    finally:
        await p.stop()


class Kit:
    """The helpers above for the test modules (a conftest is not importable from them)."""

    eventually = staticmethod(eventually)
    metric = staticmethod(metric)
    read_topic = staticmethod(read_topic)
    producer = staticmethod(producer)
    create_topics = staticmethod(create_topics)
    owned = staticmethod(owned)
    Services = Services
    data = DATA
    models = MODELS
    season = SEASON


@pytest.fixture(scope="session")
def kit() -> type[Kit]:
    return Kit


@pytest.fixture(autouse=True)
def _own_mlflow(mlflow_tracking_uri: str) -> str:
    """A trainer started here finds its model registry: a fresh MLflow store per test, in the
    environment the service processes inherit."""
    return mlflow_tracking_uri
