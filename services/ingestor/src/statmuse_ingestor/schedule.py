"""The daily ingest: yesterday's games, every day at 06:00 US/Eastern, once across replicas."""

import asyncio
import datetime as dt
import functools
import logging
from collections.abc import Awaitable, Callable
from zoneinfo import ZoneInfo

import asyncpg

from statmuse_shared.platform.db import try_advisory_lock

log = logging.getLogger(__name__)
EASTERN = ZoneInfo("America/New_York")
LOCK = "ingest-daily"


def yesterday(now: dt.datetime) -> dt.date:
    """The US/Eastern calendar day before `now` (games are dated by US local date)."""
    return (now.astimezone(EASTERN) - dt.timedelta(days=1)).date()


def next_run_at(now: dt.datetime, *, hour: int = 6) -> dt.datetime:
    """The next `hour`:00 US/Eastern strictly after `now` (aware), DST included."""
    local = now.astimezone(EASTERN)
    candidate = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if candidate <= local:
        # Aware arithmetic with a ZoneInfo is wall-clock arithmetic: still 06:00 across DST.
        candidate += dt.timedelta(days=1)
    return candidate


async def run_once_locked(pool: asyncpg.Pool, job: Callable[[], Awaitable[object]]) -> bool:
    """Run the job unless another replica holds the lock; returns whether it ran here."""
    async with try_advisory_lock(pool, LOCK) as got:
        if not got:
            log.info("daily ingest is running elsewhere; skipped")
            return False
        await job()
        return True


async def daily_loop(
    pool: asyncpg.Pool,
    job: Callable[[dt.date], Awaitable[object]],
    *,
    hour: int = 6,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> None:
    """Forever: wait for the next run time (a scheduled wait, not a guess), then run."""
    while True:
        now = clock()
        wait = (next_run_at(now, hour=hour) - now).total_seconds()
        await asyncio.sleep(max(wait, 0))
        day = yesterday(clock())
        try:
            await run_once_locked(pool, functools.partial(job, day))
        except Exception:
            log.exception("daily ingest for %s failed; the next run will retry", day)
