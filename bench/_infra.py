"""Benchmarks run against real servers: the ones in the environment, or embedded ones."""

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from statmuse_ops.stack import Stack
    from statmuse_shared.contract.messages import PlayerGameIngested, TeamGameIngested

DATA = Path(__file__).resolve().parents[1] / "data" / "nba"


def box_scores(
    seasons: list[str],
) -> tuple[list["PlayerGameIngested"], list["TeamGameIngested"]]:
    """The bundled seasons' player and team box scores, validated as the ingestor does, in
    file order."""
    from statmuse_ingestor.service import normalise_player_row, normalise_team_row
    from statmuse_ingestor.sources import FileSource

    source = FileSource(DATA)
    players, teams = [], []
    for season in seasons:
        players += [
            normalise_player_row(r.record, source="files").game for r in source.player_rows(season)
        ]
        teams += [
            normalise_team_row(r.record, source="files").game for r in source.team_rows(season)
        ]
    return players, teams


@contextlib.contextmanager
def servers() -> Iterator[tuple[str, str]]:
    """(DATABASE_URL admin DSN, KAFKA_BOOTSTRAP_SERVERS); embedded ones are stopped after."""
    if os.environ.get("DATABASE_URL") and os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield os.environ["DATABASE_URL"], os.environ["KAFKA_BOOTSTRAP_SERVERS"]
        return
    from statmuse_ops.infra import start_broker, start_postgres, stop

    root = Path(tempfile.mkdtemp(prefix="statmuse-bench-"))
    pg = start_postgres(root / "pg", port=None)
    broker = start_broker(root / "broker", port=None)
    try:
        yield pg.url, broker.url
    finally:
        stop(broker)
        stop(pg)
        shutil.rmtree(root, ignore_errors=True)


async def fresh_database(admin_dsn: str, name: str) -> str:
    import asyncpg

    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return admin_dsn.rsplit("/", 1)[0] + f"/{name}"


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """REDIS_URL from the environment, or an embedded Redis stopped after."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    from statmuse_ops.infra import start_redis, stop

    root = Path(tempfile.mkdtemp(prefix="statmuse-bench-redis-"))
    redis = start_redis(root, port=None)
    try:
        yield redis.url
    finally:
        stop(redis)
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def local_stack(
    *, services: tuple[str, ...] | None = None, env: dict[str, str] | None = None
) -> "Iterator[Stack]":
    """The whole local stack as `statmuse up` starts it (PostgreSQL, Redis, the broker, MLflow,
    topics, migrations, then each service its own process), but in a temporary folder and on free
    ports only: `up` prefers the default ports, and other people may run a stack (and point
    load at port 8000) in the same checkout. `env` goes to the services (e.g. the gateway's
    rate limit). Everything started is stopped after; the folder (logs) is kept on failure."""
    import asyncio

    from statmuse_ops import stack as stack_mod
    from statmuse_ops.infra import (
        free_port,
        start_broker,
        start_mlflow,
        start_postgres,
        start_redis,
    )
    from statmuse_shared.contract import topics
    from statmuse_shared.platform.broker import ensure_topics
    from statmuse_shared.platform.migrations import migrate

    root = Path(tempfile.mkdtemp(prefix="statmuse-bench-stack-"))
    logs = root / "logs"
    stack = stack_mod.Stack(root)
    ok = False
    try:
        for variable, name, start in (
            ("DATABASE_URL", "postgres", start_postgres),
            ("REDIS_URL", "redis", start_redis),
            ("KAFKA_BOOTSTRAP_SERVERS", "broker", start_broker),
        ):
            started = start(root / name, port=None, log=logs / f"{name}.log")
            stack.started.append(started)
            stack.env[variable] = started.url
        stack.env["ARTIFACT_STORE_URL"] = (root / "artifacts").as_uri()
        # The trainer is ready only with its model registry: MLflow on the stack's PostgreSQL,
        # on a free port (without it the trainer waited on whatever answered at :5000).
        mlflow = start_mlflow(
            root / "mlflow",
            database_url=stack.env["DATABASE_URL"],
            port=None,
            log=logs / "mlflow.log",
        )
        stack.started.append(mlflow)
        stack.env["MLFLOW_TRACKING_URI"] = mlflow.url
        bootstrap = stack.env["KAFKA_BOOTSTRAP_SERVERS"]
        asyncio.run(ensure_topics(bootstrap, topics.all_with_dead_letters()))
        asyncio.run(migrate(stack.env["DATABASE_URL"]))
        chosen = services or tuple(stack_mod.SERVICES)
        for name in chosen:
            stack_mod.start_service(stack, name, port=free_port(), logs=logs, env=env)
        for name in chosen:
            svc = stack.get(name)
            assert svc is not None
            stack_mod.wait_ready(svc, deadline_s=120)
        yield stack
        ok = True
    finally:
        stack_mod.down(stack, say=lambda _: None)
        if ok:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"the stack's logs are kept in {logs}", file=sys.stderr)


def _trees(started: Iterable[Any]) -> Iterator[tuple[str, list[Any]]]:
    """Each started process (`statmuse_ops.infra.Started`) that is alive, by name, with its
    live children (PostgreSQL's are its backends, where the services' queries run)."""
    import psutil

    for s in started:
        try:
            proc = psutil.Process(s.pid)
            yield s.name, [proc, *proc.children(recursive=True)]
        except psutil.Error:
            continue


def _summed(procs: list[Any], read: Any) -> float:
    """`read(process)` summed over the processes still there to read."""
    import psutil

    total = 0.0
    for p in procs:
        try:
            total += read(p)
        except psutil.Error:
            continue
    return total


def cpu_seconds(started: Iterable[Any]) -> dict[str, float]:
    """CPU seconds (user + system) each started process and its live children have used so
    far, by name. The difference of two readings is a stretch's CPU per process."""
    return {
        name: _summed(procs, lambda p: p.cpu_times().user + p.cpu_times().system)
        for name, procs in _trees(started)
    }


def memory_mb(started: Iterable[Any]) -> dict[str, float]:
    """Resident memory (MB) of each started process with its live children, by name."""
    return {
        name: _summed(procs, lambda p: p.memory_info().rss) / 1e6 for name, procs in _trees(started)
    }


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all cores since boot (Linux): the machine's load during a run
    is the difference of two readings."""
    try:
        fields = [float(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0, 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)
    return sum(fields) - idle, sum(fields)
