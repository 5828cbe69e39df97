"""Jobs that run at a wall-clock time in US/Eastern (games are dated by the US local day), at
most once across replicas.

A `Schedule` names a job, when it runs next and what it does for a game day; `run_forever`
waits for each schedule's next time (a scheduled wait, not a guess), then runs it for
yesterday. `run_once_locked` is how a job runs: under a PostgreSQL advisory lock, so two
replicas never both run it, and, with a `RunLog`, only if the run is not already recorded, so
a replica whose clock runs late, or that restarts, finds the work done and skips it. A failed
run is not recorded: the next attempt retries.
"""

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from statmuse_shared.platform.db import Database, try_advisory_lock

log = logging.getLogger(__name__)
EASTERN = ZoneInfo("America/New_York")

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def yesterday(now: dt.datetime) -> dt.date:
    """The US/Eastern calendar day before `now` (games are dated by US local date)."""
    return (now.astimezone(EASTERN) - dt.timedelta(days=1)).date()


def next_daily_at(now: dt.datetime, *, hour: int, minute: int = 0) -> dt.datetime:
    """The next hour:minute US/Eastern strictly after `now` (aware), DST included."""
    local = now.astimezone(EASTERN)
    candidate = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if candidate <= local:
        # Aware arithmetic with a ZoneInfo is wall-clock arithmetic: the same time across DST.
        candidate += dt.timedelta(days=1)
    return candidate


def next_weekly_at(now: dt.datetime, *, weekday: int, hour: int, minute: int = 0) -> dt.datetime:
    """The next `weekday` (0 Monday .. 6 Sunday) at hour:minute US/Eastern after `now`."""
    local = now.astimezone(EASTERN)
    candidate = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    candidate += dt.timedelta(days=(weekday - local.weekday()) % 7)
    if candidate <= local:
        candidate += dt.timedelta(days=7)
    return candidate


class RunLog(Protocol):
    """Where finished runs are recorded (a service's own table)."""

    async def done(self, job: str, run_key: str) -> bool: ...

    async def record(self, job: str, run_key: str, detail: Mapping[str, Any]) -> None: ...


class Outcome(StrEnum):
    RAN = "ran"
    SKIPPED = "skipped"  # running elsewhere, or already recorded


async def run_once_locked(
    db: Database,
    *,
    lock: str,
    job: str,
    run_key: str,
    work: Callable[[], Awaitable[Mapping[str, Any] | None]],
    runs: RunLog | None = None,
) -> Outcome:
    """Run `work` unless another replica holds `lock` or `runs` has this run recorded; an
    exception from `work` propagates and nothing is recorded."""
    async with try_advisory_lock(db.pool, lock) as got:
        if not got:
            log.info("%s job for %s is running elsewhere; skipped", job, run_key)
            return Outcome.SKIPPED
        if runs is not None and await runs.done(job, run_key):
            log.info("%s job for %s already ran; skipped", job, run_key)
            return Outcome.SKIPPED
        detail = await work()
        if runs is not None:
            await runs.record(job, run_key, detail or {})
        return Outcome.RAN


@dataclass(frozen=True)
class Schedule:
    """A job: when it runs next after a moment, and what it does for a game day."""

    job: str
    next_at: Callable[[dt.datetime], dt.datetime]
    run: Callable[[dt.date], Awaitable[object]]


async def run_forever(
    schedules: Sequence[Schedule],
    *,
    clock: Clock = utc_now,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Every schedule in a loop of its own, until cancelled: wait for the next run time, then
    run it for yesterday; a failure is logged and the next run retries."""

    async def loop(schedule: Schedule) -> None:
        while True:
            now = clock()
            await sleep(max((schedule.next_at(now) - now).total_seconds(), 0))
            day = yesterday(clock())
            try:
                await schedule.run(day)
            except Exception:
                log.exception("%s job for %s failed; the next run will retry", schedule.job, day)

    await asyncio.gather(*(loop(s) for s in schedules))
