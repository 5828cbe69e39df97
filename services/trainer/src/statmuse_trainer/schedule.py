"""The trainer's scheduled jobs, after the ingestor's daily ingest (06:00 US/Eastern):

- daily (default 07:00): yesterday's monitoring metrics, the drift check (which may request
  retraining), and when players have new games since the previous daily run (at most
  CATCH_UP_DAYS back), a per-player retrain request per stat: the stat's full retrain, which
  refits every player's head;
- weekly (default Sunday 08:00): a full retrain request for every stat.

They run on the one scheduler (`statmuse_shared.platform.scheduler`): under a PostgreSQL
advisory lock (`trainer-<job>`), so two replicas never both run one, and recorded in
`registry.scheduled_runs` (job, day), so a replica whose clock runs a few seconds late, or
that restarts and runs again, finds the work done and skips it.
`statmuse_trainer_scheduled_runs_total{job,outcome}` counts ran, skipped and failed.
"""

import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from statmuse_shared.platform.db import Database
from statmuse_shared.platform.scheduler import (
    Outcome,
    RunLog,
    Schedule,
    next_daily_at,
    next_weekly_at,
    run_forever,
    run_once_locked,
)
from statmuse_trainer import metrics
from statmuse_trainer.monitoring import jobs
from statmuse_trainer.runtime import TrainerRuntime

log = logging.getLogger(__name__)
# A daily run asks for players with games since the previous run, at most this far back.
CATCH_UP_DAYS = 7


class Job(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"


DAILY, WEEKLY = Job.DAILY, Job.WEEKLY


async def run_locked(
    db: Database,
    runs: RunLog,
    *,
    job: str,
    run_key: str,
    work: Callable[[], Awaitable[Mapping[str, Any] | None]],
) -> bool:
    """Run `work` once across replicas and once per run key (`run_once_locked`, lock
    `trainer-<job>`), counting the outcome; returns whether it ran here. A failed run is
    counted, not recorded (the next attempt retries), and its error propagates."""

    async def counted() -> Mapping[str, Any] | None:
        try:
            return await work()
        except Exception:
            metrics.SCHEDULED_RUNS.labels(job, "failed").inc()
            raise

    outcome = await run_once_locked(
        db, lock=f"trainer-{job}", job=job, run_key=run_key, work=counted, runs=runs
    )
    metrics.SCHEDULED_RUNS.labels(job, outcome.value).inc()
    return outcome is Outcome.RAN


@dataclass(frozen=True)
class Jobs:
    """The two jobs; `day` is the game day they are about (yesterday)."""

    rt: TrainerRuntime

    async def daily(self, day: dt.date) -> dict[str, Any]:
        """Metrics and drift for `day`; retrain requests for players with new games."""
        rt = self.rt
        computed = await jobs.daily_metrics(rt, day)
        summary = await jobs.check_drift(rt, day, now=rt.clock())
        requested = 0
        if rt.settings.request_player_retrains:
            previous = await rt.runs.last(DAILY.value)
            after = day - dt.timedelta(days=1)
            if previous is not None and previous < day.isoformat():
                after = max(dt.date.fromisoformat(previous), day - dt.timedelta(CATCH_UP_DAYS))
            requests = await jobs.request_player_retrains(rt, day, after=after)
            requested = len(requests)
        day_rows = [m for m in computed if m.day == day]
        log.info(
            "daily monitor for %s: %d predictions settled, drift in %s, %d retrain requests",
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
        requests = await jobs.request_full_retrains(self.rt, day)
        log.info("weekly retrain requested for %s", [r.stat.value for r in requests])
        return {"requests": len(requests)}

    async def run(self, job: Job, day: dt.date) -> bool:
        """The job for `day`, as the schedule runs it (same lock, same run record); whether
        it ran here."""
        job = Job(job)
        work = self.daily if job is Job.DAILY else self.weekly
        return await run_locked(
            self.rt.db,
            self.rt.runs,
            job=job.value,
            run_key=day.isoformat(),
            work=lambda: work(day),
        )

    def schedules(self) -> list[Schedule]:
        s = self.rt.settings

        def daily_at(now: dt.datetime) -> dt.datetime:
            return next_daily_at(now, hour=s.daily_hour, minute=s.daily_minute)

        def weekly_at(now: dt.datetime) -> dt.datetime:
            return next_weekly_at(now, weekday=s.weekly_weekday, hour=s.weekly_hour)

        return [
            Schedule(DAILY.value, daily_at, lambda day: self.run(DAILY, day)),
            Schedule(WEEKLY.value, weekly_at, lambda day: self.run(WEEKLY, day)),
        ]


async def run_schedule(rt: TrainerRuntime) -> None:
    """The daily and the weekly job, each at its time, for the service's lifespan."""
    await run_forever(Jobs(rt).schedules(), clock=rt.clock)
