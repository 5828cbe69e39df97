"""`statmuse up/down/status`: the whole system on one machine, each piece its own process.

Infrastructure starts only when its URL is not already in the environment (DATABASE_URL,
REDIS_URL, KAFKA_BOOTSTRAP_SERVERS, MLFLOW_TRACKING_URI). Everything started is recorded in
`<run dir>/stack.json` with pid and process start time; `down` stops exactly those processes
and nothing else.
"""

import asyncio
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from statmuse_ops.infra import (
    InfraError,
    Started,
    pick_port,
    spawn_service,
    start_broker,
    start_mlflow,
    start_postgres,
    start_redis,
    stop,
    wait_for_mlflow,
)
from statmuse_shared.contract import topics
from statmuse_shared.platform.broker import ensure_topics
from statmuse_shared.platform.lag import by_topic
from statmuse_shared.platform.migrations import migrate

# Service name -> (console script, default port). Gateway first in the table, last to start.
SERVICES: dict[str, tuple[str, int]] = {
    "ingestor": ("statmuse-ingestor", 8101),
    "features": ("statmuse-features", 8102),
    "trainer": ("statmuse-trainer", 8103),
    "predictor": ("statmuse-predictor", 8104),
    "gateway": ("statmuse-gateway", 8000),
}
Say = Callable[[str], None]
# (URL variable, name, starter, default port): started only when the variable is not set.
INFRASTRUCTURE: tuple[tuple[str, str, Callable[..., Started], int], ...] = (
    ("DATABASE_URL", "postgres", start_postgres, 5432),
    ("REDIS_URL", "redis", start_redis, 6379),
    ("KAFKA_BOOTSTRAP_SERVERS", "broker", start_broker, 9092),
)


@dataclass
class Stack:
    run_dir: Path
    env: dict[str, str] = field(default_factory=dict)  # the URLs every service gets
    started: list[Started] = field(default_factory=list)

    @property
    def state_file(self) -> Path:
        return self.run_dir / "stack.json"

    def save(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(
            json.dumps({"env": self.env, "started": [s.to_json() for s in self.started]}, indent=2)
        )
        tmp.replace(self.state_file)

    @classmethod
    def load(cls, run_dir: Path) -> "Stack | None":
        path = run_dir / "stack.json"
        if not path.exists():
            return None
        raw = json.loads(path.read_text())
        return cls(run_dir, raw["env"], [Started(**s) for s in raw["started"]])

    def get(self, name: str) -> Started | None:
        return next((s for s in self.started if s.name == name), None)


def default_run_dir() -> Path:
    return Path(os.environ.get("STATMUSE_RUN_DIR", "var/stack")).resolve()


def stack_env(stack: Stack) -> dict[str, str]:
    """The environment for a process that talks to this stack (what `up` exported)."""
    env = dict(os.environ)
    env.update(stack.env)
    return env


def up(
    run_dir: Path,
    *,
    environ: Mapping[str, str],
    say: Say,
    services: tuple[str, ...] = tuple(SERVICES),
) -> Stack:
    existing = Stack.load(run_dir)
    if existing and any(s.is_running() for s in existing.started):
        raise InfraError(f"a stack is already running from {run_dir}; `statmuse down` first")
    if run_dir.exists():
        # The broker keeps messages in memory, so the data of a previous stack is gone with
        # it; starting PostgreSQL and the artifacts afresh keeps the three consistent.
        shutil.rmtree(run_dir)
    stack = Stack(run_dir)
    logs = run_dir / "logs"
    try:
        for variable, name, start, port in INFRASTRUCTURE:
            if environ.get(variable):
                stack.env[variable] = environ[variable]
                say(f"{name}: using {variable} from the environment")
                continue
            started = start(run_dir / name, port=port, log=logs / f"{name}.log")
            stack.started.append(started)
            stack.env[variable] = started.url
            stack.save()
        stack.env["ARTIFACT_STORE_URL"] = environ.get(
            "ARTIFACT_STORE_URL", (run_dir / "artifacts").as_uri()
        )
        # The model registry and training runs: started now, waited for once the services are.
        mlflow = None
        if environ.get("MLFLOW_TRACKING_URI"):
            stack.env["MLFLOW_TRACKING_URI"] = environ["MLFLOW_TRACKING_URI"]
            say("mlflow: using MLFLOW_TRACKING_URI from the environment")
        else:
            # Its store beside the stack's database, named after it: two stacks on one
            # PostgreSQL (tests, a second checkout) never share a registry.
            database = stack.env["DATABASE_URL"].rsplit("/", 1)[1].split("?")[0]
            mlflow = start_mlflow(
                run_dir / "mlflow",
                database_url=stack.env["DATABASE_URL"],
                database=f"{database}_mlflow",
                port=5000,
                log=logs / "mlflow.log",
                wait=False,
            )
            stack.started.append(mlflow)
            stack.env["MLFLOW_TRACKING_URI"] = mlflow.url
            stack.save()
        # Where the dashboard links each model version to its run.
        stack.env["MLFLOW_UI_URL"] = environ.get("MLFLOW_UI_URL", stack.env["MLFLOW_TRACKING_URI"])

        created = asyncio.run(
            ensure_topics(stack.env["KAFKA_BOOTSTRAP_SERVERS"], topics.all_with_dead_letters())
        )
        say(f"topics: created {len(created)} ({topics.DEFAULT_PARTITIONS} partitions each)")
        applied = asyncio.run(migrate(stack.env["DATABASE_URL"]))
        say(f"migrations: applied {len(applied)}")

        for name in services:
            start_service(stack, name, port=pick_port(SERVICES[name][1]), logs=logs)
            stack.save()
        # MLflow creates its tables on a first start (~10 s) while the services start; the
        # trainer is not ready until it answers.
        if mlflow is not None:
            wait_for_mlflow(mlflow, deadline_s=90)
            say(f"mlflow: {mlflow.url}")
        for name in services:
            svc = stack.get(name)
            assert svc is not None
            wait_ready(svc, deadline_s=60)
        return stack
    except BaseException:
        say("start-up failed; stopping what was started")
        down(stack, say=say)
        raise


def start_service(
    stack: Stack, name: str, *, port: int, logs: Path, env: Mapping[str, str] | None = None
) -> Started:
    """One service of the stack as a process of its own (`statmuse-<name> serve`) on `port`,
    configured by the stack's environment plus `env`, its log in `logs`."""
    script, _ = SERVICES[name]
    service_env = {
        **stack_env(stack),
        **(env or {}),
        "LOG_JSON": "true",
        f"{name.upper()}_HTTP_PORT": str(port),
    }
    exe = Path(sys.executable).with_name(script)
    started = spawn_service(
        name,
        [str(exe if exe.exists() else script), "serve", "--port", str(port)],
        port=port,
        env=service_env,
        log=logs / f"{name}.log",
    )
    stack.started.append(started)
    return started


def wait_ready(svc: Started, *, deadline_s: float) -> None:
    deadline = time.monotonic() + deadline_s
    last = "no answer"
    while time.monotonic() < deadline:
        if not svc.is_running():
            raise InfraError(f"{svc.name} exited during start-up; see {svc.log}")
        try:
            r = httpx.get(f"{svc.url}/ready", timeout=2)
            if r.status_code == 200:
                return
            last = r.text
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        time.sleep(0.2)
    raise InfraError(f"{svc.name} not ready after {deadline_s:.0f}s ({last}); see {svc.log}")


def down(stack: Stack, *, say: Say) -> list[str]:
    """Stop, in reverse order, what this stack started; returns the names stopped."""
    stopped = []
    for started in reversed(stack.started):
        if stop(started):
            stopped.append(started.name)
            say(f"stopped {started.name} (pid {started.pid})")
        else:
            say(f"{started.name} was not running")
    if stack.state_file.exists():
        stack.state_file.unlink()
    return stopped


def status(stack: Stack) -> list[dict[str, Any]]:
    """Each component: up, ready (its /ready), and for a service its consumer groups' lag
    (`lag`: "group topic" -> records not read yet, from the service's own /metrics)."""
    rows = []
    for s in stack.started:
        state = "up" if s.is_running() else "down"
        lag: dict[str, float] = {}
        if state == "up" and s.name == "mlflow":
            try:
                r = httpx.get(f"{s.url}/health", timeout=2)
                state = "ready" if r.status_code == 200 else f"up, not ready ({r.status_code})"
            except httpx.HTTPError:
                state = "up, not answering"
        elif state == "up" and s.url.startswith("http"):
            try:
                r = httpx.get(f"{s.url}/ready", timeout=2)
                state = "ready" if r.status_code == 200 else f"up, not ready ({r.status_code})"
                lag = consumer_lag(httpx.get(f"{s.url}/metrics", timeout=2).text)
            except httpx.HTTPError:
                state = "up, not answering"
        rows.append(
            {"name": s.name, "pid": s.pid, "url": s.url, "state": state, "log": s.log, "lag": lag}
        )
    return rows


def consumer_lag(metrics_text: str) -> dict[str, float]:
    """ "group topic" -> lag summed over partitions, from a service's /metrics text."""
    samples = [
        (sample.labels, sample.value)
        for family in text_string_to_metric_families(metrics_text)
        for sample in family.samples
        if sample.name == "statmuse_consumer_lag"
    ]
    return {
        f"{group} {topic}": value for (group, topic), value in sorted(by_topic(samples).items())
    }
