"""`statmuse-features build`, run as the operator runs it (its console script, settings from the
environment): every vector from the stored games, only those new or changed written and
published; without --publish no broker is needed."""

import asyncio
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from statmuse_features.adapters.postgres import PostgresFeatures
from statmuse_shared.contract import topics
from statmuse_shared.platform.broker import ensure_topics
from statmuse_shared.platform.db import Database, create_pool
from statmuse_shared.platform.migrations import migrate

from ..unit.season import boxes, plays, schedule

pytestmark = pytest.mark.integration
GAMES = schedule("2023-24", 8)
PLAYERS = [*plays(GAMES, "BOS", 1), *plays(GAMES, "MIA", 4)]
VECTORS = len(PLAYERS) + 2  # a game vector per game, and a next-game vector per player
CHANGED = re.compile(r"^(\d+) vectors new or changed in [\d.]+s$", re.MULTILINE)


async def build(database_url: str, bootstrap: str, *options: str) -> int:
    """Run the command; how many vectors it says are new or changed."""
    exe = Path(sys.executable).with_name("statmuse-features")
    env = {**os.environ, "DATABASE_URL": database_url, "KAFKA_BOOTSTRAP_SERVERS": bootstrap}
    process = await asyncio.create_subprocess_exec(
        str(exe),
        "build",
        *options,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=90)
    text = out.decode(errors="replace")
    assert process.returncode == 0, text
    found = CHANGED.search(text)
    assert found, text
    return int(found[1])


@pytest.fixture
async def stored(database_url: str) -> Any:
    await migrate(database_url, schemas=["features"])
    pool = await create_pool(database_url, max_size=2)
    await PostgresFeatures(Database.of(pool)).store_games(
        players=PLAYERS, teams=[b for g in GAMES for b in boxes(g)]
    )
    yield pool
    await pool.close()


async def published(bootstrap: str, *, expected: int) -> list[bytes]:
    """The keys of the records on topics.FEATURES, read from the start until `expected` are
    in (or a deadline passes), then one more poll for any beyond."""
    consumer = AIOKafkaConsumer(
        topics.FEATURES, bootstrap_servers=bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    keys: list[bytes] = []
    try:
        async with asyncio.timeout(30):
            while len(keys) < expected:
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    keys += [r.key for r in records]
        for records in (await consumer.getmany(timeout_ms=500)).values():
            keys += [r.key for r in records]
    finally:
        await consumer.stop()
    return keys


async def test_build_without_publishing_needs_no_broker(database_url: str, stored: Any) -> None:
    assert await build(database_url, "127.0.0.1:1", "--no-publish") == VECTORS
    assert await stored.fetchval("SELECT count(*) FROM features.feature_vectors") == VECTORS
    assert await build(database_url, "127.0.0.1:1", "--no-publish") == 0


async def test_build_publishes_what_changed(
    database_url: str, stored: Any, kafka_bootstrap: str
) -> None:
    await ensure_topics(kafka_bootstrap, [topics.FEATURES])  # a broker of this test's own
    assert await build(database_url, kafka_bootstrap) == VECTORS
    keys = await published(kafka_bootstrap, expected=VECTORS)
    assert sorted(keys) == sorted([b"1"] * (VECTORS // 2) + [b"4"] * (VECTORS // 2))
    assert await build(database_url, kafka_bootstrap) == 0
    assert len(await published(kafka_bootstrap, expected=VECTORS)) == VECTORS
