"""Benchmarks run against real servers: the ones in the environment, or embedded ones."""

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


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
