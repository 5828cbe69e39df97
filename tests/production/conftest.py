"""Production acceptance tests (issue 8). The infrastructure fixtures (`infra`, `database_url`,
`kafka_bootstrap`, `unique`) come from the root conftest.py; this file adds what the tests
here share: real box scores into the `ingest` schema and onto the raw topic through the
ingestor's own code (the backfill `statmuse-ingestor backfill` runs, or the daily job), and a
scratch database for fixtures wider than one test.
"""

import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncpg
import pytest

from statmuse_ingestor.app import connected
from statmuse_ingestor.backfill import Summary, backfill, ingest_day
from statmuse_ingestor.settings import IngestorSettings
from statmuse_ingestor.sources import FileSource
from statmuse_shared.contract import topics
from statmuse_shared.platform.broker import ensure_topics

DATA = Path(__file__).resolve().parents[2] / "data" / "nba"
SEASON = "2023-24"


class Ingestor:
    """The ingestor's backfill and daily job over the bundled files, as the service runs
    them: rows committed to `ingest` (the outbox), then published to `nba.games.raw.v1`.
    The `ingest` schema must be migrated."""

    def __init__(self, database_url: str, bootstrap: str) -> None:
        self.database_url, self.bootstrap = database_url, bootstrap
        self.source = FileSource(DATA)

    async def __aenter__(self) -> "Ingestor":
        await ensure_topics(self.bootstrap, topics.all_with_dead_letters())
        settings = IngestorSettings(
            database_url=self.database_url, kafka_bootstrap_servers=self.bootstrap
        )
        self._stack = contextlib.AsyncExitStack()
        # The runtime a one-shot command has: its database open, its broker connected.
        self.rt = await self._stack.enter_async_context(connected(settings))
        self.pool, self.broker = self.rt.db.pool, self.rt.broker
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    async def window(self, date_from: dt.date, date_to: dt.date) -> Summary:
        """2023-24's player and team box scores from `date_from` to `date_to` inclusive."""
        return await backfill(
            self.rt,
            source=self.source,
            seasons=[SEASON],
            date_from=date_from,
            date_to=date_to,
        )

    async def day(self, day: dt.date) -> Summary:
        """One day's games, through the daily job's own entry point."""
        return await ingest_day(self.rt, source=self.source, day=day)


@contextlib.asynccontextmanager
async def scratch_database(admin_url: str) -> AsyncIterator[str]:
    """A fresh database on the server of `admin_url`, dropped afterwards (the root conftest's
    `database_url`, for fixtures that outlive one test)."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield f"{admin_url.rpartition('/')[0]}/{name}"
    finally:
        admin = await asyncpg.connect(admin_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture(scope="session")
def ingestor() -> type[Ingestor]:
    """`Ingestor` for tests: `async with ingestor(database_url, bootstrap) as i: await i.day(d)`."""
    return Ingestor


@pytest.fixture(scope="session")
def scratch_db() -> Callable[[str], contextlib.AbstractAsyncContextManager[str]]:
    """`scratch_database` for fixtures wider than one test: `async with scratch_db(admin_url)`."""
    return scratch_database
