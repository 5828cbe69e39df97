"""The trainer's scheduled jobs, after the ingestor's daily ingest (06:00 US/Eastern):

- daily (default 07:00): yesterday's monitoring metrics, the drift check (which may request
  retraining), and a retrain request per stat for every player with new games;
- weekly (default Sunday 08:00): a full retrain request for every stat.

The ingestor's pattern (`statmuse_ingestor.schedule`): a loop that waits for the next run time,
then runs the job under a PostgreSQL advisory lock so two replicas never both run it. Added
here: a record of each finished run (job, day) in `registry.scheduled_runs`, checked under the
lock, so a replica whose clock runs a few seconds late, or that restarts and runs again, finds
the work done and skips it.
"""

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from faststream.kafka import KafkaBroker

from statmuse_shared.platform.db import try_advisory_lock
from statmuse_trainer import metrics
from statmuse_trainer.adapters import postgres as db
from statmuse_trainer.monitoring import jobs
from statmuse_trainer.settings import TrainerSettings

log = logging.getLogger(__name__)
EASTERN = ZoneInfo("America/New_York")
DAILY = "daily"
WEEKLY = "weekly"
# A daily run asks for players with games since the previous run, at most this far back.
CATCH_UP_DAYS = 7

Clock = Callable[[], dt.datetime]


def _utc_now() -> dt.datetime:
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


async def run_once_locked(
    pool: asyncpg.Pool, *, job: str, run_key: str, work: Callable[[], Awaitable[dict[str, Any]]]
) -> bool:
    """Run `work` unless another replica holds the job's lock or the run is already recorded;
    returns whether it ran here. A failed run is not recorded, so the next attempt retries."""
    async with try_advisory_lock(pool, f"trainer-{job}") as got:
        if not got:
            log.info("%s job for %s is running elsewhere; skipped", job, run_key)
            metrics.SCHEDULED_RUNS.labels(job, "skipped").inc()
            return False
        async with pool.acquire() as conn:
            if await db.scheduled_run_done(conn=conn, job=job, run_key=run_key):
                log.info("%s job for %s already ran; skipped", job, run_key)
                metrics.SCHEDULED_RUNS.labels(job, "skipped").inc()
                return False
        try:
            detail = await work()
        except Exception:
            metrics.SCHEDULED_RUNS.labels(job, "failed").inc()
            raise
        async with pool.acquire() as conn:
            await db.record_scheduled_run(conn=conn, job=job, run_key=run_key, detail=detail)
        metrics.SCHEDULED_RUNS.labels(job, "ran").inc()
        return True


@dataclass(frozen=True)
class Jobs:
    """The two jobs with what they need; `day` is the game day they are about (yesterday)."""

    pool: asyncpg.Pool
    broker: KafkaBroker
    settings: TrainerSettings
    clock: Clock = _utc_now

    async def daily(self, day: dt.date) -> dict[str, Any]:
        """Metrics and drift for `day`; retrain requests for players with new games."""
        computed = await jobs.daily_metrics(pool=self.pool, day=day)
        summary = await jobs.check_drift(
            pool=self.pool, broker=self.broker, day=day, settings=self.settings, now=self.clock()
        )
        requested = 0
        if self.settings.request_player_retrains:
            async with self.pool.acquire() as conn:
                previous = await db.last_scheduled_run(conn=conn, job=DAILY)
            after = day - dt.timedelta(days=1)
            if previous is not None and previous < day.isoformat():
                after = max(dt.date.fromisoformat(previous), day - dt.timedelta(CATCH_UP_DAYS))
            requests = await jobs.request_player_retrains(
                pool=self.pool, broker=self.broker, day=day, after=after, settings=self.settings
            )
            requested = len(requests)
        day_rows = [m for m in computed if m.day == day]
        log.info(
            "daily monitor for %s: %d predictions settled, drift in %s, %d player retrain requests",
            day,
            sum(m.predictions for m in day_rows),
            [d.stat.value for d in summary.decisions if d.fire] or "none",
            requested,
        )
        return {
            "predictions": sum(m.predictions for m in day_rows),
            "drifted": [d.stat.value for d in summary.decisions if d.fire],
            "drift_requests": len(summary.published),
            "player_requests": requested,
        }

    async def weekly(self, day: dt.date) -> dict[str, Any]:
        requests = await jobs.request_full_retrains(
            broker=self.broker, day=day, settings=self.settings
        )
        log.info("weekly retrain requested for %s", [r.stat.value for r in requests])
        return {"requests": len(requests)}

    async def run(self, job: str, day: dt.date) -> bool:
        work = self.daily if job == DAILY else self.weekly
        return await run_once_locked(
            self.pool, job=job, run_key=day.isoformat(), work=lambda: work(day)
        )


async def loop(
    jobs_: Jobs, job: str, next_at: Callable[[dt.datetime], dt.datetime], clock: Clock
) -> None:
    """Forever: wait for the next run time (a scheduled wait, not a guess), then run."""
    while True:
        now = clock()
        await asyncio.sleep(max((next_at(now) - now).total_seconds(), 0))
        day = yesterday(clock())
        try:
            await jobs_.run(job, day)
        except Exception:
            log.exception("%s job for %s failed; the next run will retry", job, day)


async def run_schedule(jobs_: Jobs) -> None:
    """The daily and the weekly loop, for the service's lifespan."""
    s = jobs_.settings

    def daily_at(now: dt.datetime) -> dt.datetime:
        return next_daily_at(now, hour=s.daily_hour, minute=s.daily_minute)

    def weekly_at(now: dt.datetime) -> dt.datetime:
        return next_weekly_at(now, weekday=s.weekly_weekday, hour=s.weekly_hour)

    await asyncio.gather(
        loop(jobs_, DAILY, daily_at, jobs_.clock), loop(jobs_, WEEKLY, weekly_at, jobs_.clock)
    )
