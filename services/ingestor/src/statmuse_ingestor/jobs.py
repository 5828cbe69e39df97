"""The daily ingest: yesterday's games (US/Eastern), then the schedule from today on, every day
at `daily_hour`:00 US/Eastern, once across replicas (a PostgreSQL advisory lock), on the
platform's scheduler.

The ingestor keeps no record of its runs for the scheduler (no RunLog): a second run of a day
stores nothing new and publishes nothing new, so only the lock matters.
"""

import asyncio
import datetime as dt
import functools
from collections.abc import Awaitable, Callable, Mapping

from statmuse_ingestor.backfill import ingest_day
from statmuse_ingestor.runtime import IngestorRuntime
from statmuse_ingestor.schedule import ingest_schedule
from statmuse_ingestor.sources import Source
from statmuse_shared.contract.seasons import season_of
from statmuse_shared.platform.scheduler import (
    Clock,
    Outcome,
    Schedule,
    next_daily_at,
    run_forever,
    run_once_locked,
    utc_now,
)

LOCK = "ingest-daily"
JOB = "daily"


async def run_daily(rt: IngestorRuntime, source: Source, day: dt.date) -> Outcome:
    """Ingest `day`'s box scores, then the schedule from the day after on (postponements and
    moves included), unless another replica is at it."""

    async def work() -> Mapping[str, int]:
        counts = (await ingest_day(rt, source=source, day=day)).counts()
        today = day + dt.timedelta(days=1)
        schedule = await ingest_schedule(
            rt, source=source, seasons=[season_of(today)], date_from=today
        )
        return counts | {f"schedule_{k}": v for k, v in schedule.counts().items()}

    return await run_once_locked(rt.db, lock=LOCK, job=JOB, run_key=day.isoformat(), work=work)


def daily(rt: IngestorRuntime, source: Source) -> Schedule:
    """The ingestor's one schedule."""
    return Schedule(
        job=JOB,
        next_at=functools.partial(next_daily_at, hour=rt.settings.daily_hour),
        run=functools.partial(run_daily, rt, source),
    )


async def run_schedule(
    rt: IngestorRuntime,
    *,
    clock: Clock = utc_now,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """The service's background work when `schedule_daily` is on: the daily ingest from the
    configured source, forever."""
    source = rt.sources(rt.settings.daily_source)
    await run_forever([daily(rt, source)], clock=clock, sleep=sleep)
