"""The ingestor's own schedule: daily at the configured hour, US/Eastern, ingesting yesterday's
season and day from the configured source, under the ingestor's lock. (Run times across DST,
yesterday and the lock's and loop's behaviour are the platform scheduler's, tested in
shared.)"""

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from faststream.kafka import TestKafkaBroker

from statmuse_ingestor import jobs
from statmuse_ingestor.runtime import IngestorRuntime
from statmuse_ingestor.sources import Source, SourceName
from statmuse_shared.platform.db import Database, lock_key
from statmuse_shared.platform.scheduler import EASTERN

from .fakes import InMemoryIngest, MemorySource, memory_runtime

Row = Callable[..., dict[str, str]]
UTC = dt.UTC


class FakeLockConnection:
    """asyncpg's side of the advisory lock (a third-party edge): it is always free."""

    def __init__(self, locks: list[str]) -> None:
        self.locks = locks

    async def fetchval(self, sql: str, key: int) -> bool:
        assert "pg_try_advisory_lock" in sql
        self.locks.append(f"lock {key}")
        return True

    async def execute(self, sql: str, key: int) -> None:
        assert "pg_advisory_unlock" in sql
        self.locks.append(f"unlock {key}")


class FakePool:
    def __init__(self) -> None:
        self.locks: list[str] = []

    def get_max_size(self) -> int:
        return 1

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[FakeLockConnection]:
        yield FakeLockConnection(self.locks)


class Sources:
    """The runtime's source factory, handing out one source and noting what was asked for."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.chosen: list[SourceName] = []

    def __call__(self, name: SourceName) -> Source:
        self.chosen.append(name)
        return self.source


def runtime(sources: Sources, pool: FakePool, **settings: Any) -> IngestorRuntime:
    # The fake stands in for asyncpg's pool under the lock.
    return memory_runtime(db=Database.of(pool), sources=sources, **settings)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("hour", "now_utc", "expected_local"),
    [
        (6, dt.datetime(2024, 1, 10, 10, 59, tzinfo=UTC), dt.datetime(2024, 1, 10, 6, 0)),
        (6, dt.datetime(2024, 1, 10, 11, 0, tzinfo=UTC), dt.datetime(2024, 1, 11, 6, 0)),
        (9, dt.datetime(2024, 7, 1, 12, 0, tzinfo=UTC), dt.datetime(2024, 7, 1, 9, 0)),
    ],
)
def test_the_daily_job_runs_at_the_configured_hour_eastern(
    row: Row, hour: int, now_utc: dt.datetime, expected_local: dt.datetime
) -> None:
    rt = runtime(Sources(MemorySource(players={})), FakePool(), daily_hour=hour)
    job = jobs.daily(rt, MemorySource(players={}))
    assert job.job == "daily"
    run = job.next_at(now_utc)
    assert run > now_utc
    assert run.astimezone(EASTERN).replace(tzinfo=None) == expected_local


async def test_the_schedule_ingests_yesterdays_season_and_day_under_the_lock(row: Row) -> None:
    # Yesterday at 07:00 Eastern on 2024-03-05 is the 4th, in the 2023-24 season; the source
    # has that day and the one before. Then the schedule from the 5th on.
    source = MemorySource(
        players={
            "2023-24": [
                row("lebron_lal_away", GAME_DATE="2024-03-03", MATCHUP="LAL vs. PHX"),
                row("lebron_lal_away", GAME_DATE="2024-03-04", MATCHUP="LAL @ DEN"),
            ]
        },
        teams={"2023-24": []},
    )
    pool, sources = FakePool(), Sources(source)
    rt = runtime(sources, pool, daily_hour=7, daily_source="files")
    now = [dt.datetime(2024, 3, 5, 11, 30, tzinfo=UTC)]  # 06:30 EST
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        if slept:  # the second wait: the test is over
            raise asyncio.CancelledError
        slept.append(seconds)
        now[0] += dt.timedelta(seconds=seconds)

    async with TestKafkaBroker(rt.broker):
        with pytest.raises(asyncio.CancelledError):
            await jobs.run_schedule(rt, clock=lambda: now[0], sleep=sleep)

    assert slept == [30 * 60]  # until 07:00 Eastern
    assert sources.chosen == [SourceName.FILES]
    day = dt.date(2024, 3, 4)
    today = dt.date(2024, 3, 5)
    assert source.asked == [
        ("player", "2023-24", day, day),
        ("team", "2023-24", day, day),
        ("team", "2023-24", today, None),  # the schedule, from the team rows
    ]
    assert isinstance(rt.ingest, InMemoryIngest)
    assert [(r.game_date, r.published) for r in rt.ingest.rows.values()] == [(day, True)]
    key = lock_key(jobs.LOCK)
    assert pool.locks == [f"lock {key}", f"unlock {key}"]
