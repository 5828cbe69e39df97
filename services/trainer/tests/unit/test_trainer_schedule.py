"""The trainer's scheduled jobs over in-memory repositories: the defaults (after the daily
ingest), what the daily job asks for (metrics, drift, a retrain per player with games since the
previous run, at most a week back) and the weekly one (every stat), and the
statmuse_trainer_scheduled_runs_total outcomes. The times and the lock are the shared
scheduler's (shared/tests/unit/test_shared_scheduler.py)."""

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from prometheus_client import REGISTRY

from statmuse_shared.contract.messages import TrainRequested
from statmuse_shared.contract.stats import Stat
from statmuse_shared.platform import scheduler
from statmuse_trainer.runtime import TrainerRuntime
from statmuse_trainer.schedule import DAILY, WEEKLY, Job, Jobs, run_locked
from statmuse_trainer.settings import TrainerSettings

from .fakes import InMemoryExamples, InMemoryRuns, RecordingPublisher, game_vector, runtime

DAY = dt.date(2024, 3, 20)


def test_defaults_run_after_the_daily_ingest():
    s = TrainerSettings(database_url="postgresql://u:p@h/db")
    assert (s.daily_hour, s.daily_minute, s.weekly_weekday, s.weekly_hour) == (7, 0, 6, 8)
    assert not s.schedule_enabled


def recording(rt: TrainerRuntime) -> tuple[TrainerRuntime, RecordingPublisher]:
    requests = RecordingPublisher(TrainRequested)
    return dataclasses.replace(rt, publish_train_requests=requests), requests  # type: ignore[arg-type]


async def with_games(rt: TrainerRuntime, *games: tuple[int, dt.date]) -> None:
    assert isinstance(rt.examples, InMemoryExamples)
    await rt.examples.upsert([game_vector(pid, day) for pid, day in games])


@pytest.mark.parametrize(
    ("previous", "played", "asks"),
    [
        (None, DAY, True),  # first run: the day's games
        (None, DAY - dt.timedelta(days=2), False),  # first run: only the day counts
        (DAY - dt.timedelta(days=3), DAY - dt.timedelta(days=2), True),  # since the last run
        (DAY - dt.timedelta(days=30), DAY - dt.timedelta(days=6), True),  # a week back at most
        (DAY - dt.timedelta(days=30), DAY - dt.timedelta(days=8), False),
    ],
)
async def test_the_daily_job_retrains_every_stat_once_when_players_have_new_games(
    previous: dt.date | None, played: dt.date, asks: bool
) -> None:
    rt, requests = recording(runtime())
    await with_games(rt, (1, played), (2, played))
    if previous is not None:
        await rt.runs.record(DAILY, previous.isoformat(), {})
    detail = await Jobs(rt).daily(DAY)
    sent = requests.messages
    if not asks:
        assert sent == []
        assert detail["player_requests"] == 0
        return
    # One per stat, not one per player and stat: a per_player request retrains the stat, and
    # that refits every player's head.
    assert [r.stat for r in sent] == list(Stat)
    assert {(r.model_kind, r.player_id, r.reason, r.requested_by, r.promote) for r in sent} == {
        ("per_player", None, "schedule", "scheduler", False)
    }
    assert {key for key, _ in requests.sent} == {s.value.encode() for s in Stat}
    assert detail == {
        "predictions": 0,
        "drifted": [],
        "drift_requests": 0,
        "player_requests": len(Stat),
    }


async def test_the_daily_job_can_leave_player_retrains_out() -> None:
    rt, requests = recording(runtime(request_player_retrains=False))
    await with_games(rt, (3, DAY))
    assert (await Jobs(rt).daily(DAY))["player_requests"] == 0
    assert requests.sent == []


async def test_the_weekly_job_requests_a_full_retrain_of_every_stat() -> None:
    rt, requests = recording(runtime(retrain_promote=True))
    assert await Jobs(rt).weekly(DAY) == {"requests": len(Stat)}
    assert [r.stat for r in requests.messages] == list(Stat)
    assert {(r.model_kind, r.reason, r.player_id, r.promote) for r in requests.messages} == {
        ("pooled", "schedule", None, True)
    }


class FakeDb:
    pool = None


@pytest.fixture
def free_locks(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """Advisory locks in memory (the lock itself is the shared scheduler's, tested there)."""
    held: set[str] = set()

    @asynccontextmanager
    async def lock(_pool: Any, name: str) -> AsyncIterator[bool]:
        got = name not in held
        held.add(name)
        try:
            yield got
        finally:
            if got:
                held.discard(name)

    monkeypatch.setattr(scheduler, "try_advisory_lock", lock)
    return held


def runs_total(job: str, outcome: str) -> float:
    labels = {"job": job, "outcome": outcome}
    return REGISTRY.get_sample_value("statmuse_trainer_scheduled_runs_total", labels) or 0.0


async def test_every_outcome_is_counted(free_locks: set[str]) -> None:
    job = f"test-{id(free_locks)}"
    runs = InMemoryRuns()

    async def fine() -> dict[str, int]:
        return {"n": 1}

    async def boom() -> dict[str, int]:
        raise RuntimeError("broker down")

    db: Any = FakeDb()
    with pytest.raises(RuntimeError):
        await run_locked(db, runs, job=job, run_key="d1", work=boom)
    assert await run_locked(db, runs, job=job, run_key="d1", work=fine)
    assert not await run_locked(db, runs, job=job, run_key="d1", work=fine)  # already done
    free_locks.add(f"trainer-{job}")  # another replica holds the job's lock
    assert not await run_locked(db, runs, job=job, run_key="d2", work=fine)
    assert [runs_total(job, o) for o in ("ran", "skipped", "failed")] == [1, 2, 1]
    assert runs.recorded == {(job, "d1"): {"n": 1}}


async def test_a_run_by_hand_is_the_scheduled_run(free_locks: set[str]) -> None:
    rt, requests = recording(runtime())
    rt = dataclasses.replace(rt, db=FakeDb())  # type: ignore[arg-type]
    jobs = Jobs(rt)
    assert [await jobs.run(Job.WEEKLY, DAY), await jobs.run(WEEKLY, DAY)] == [True, False]
    assert len(requests.sent) == len(Stat)
    assert isinstance(rt.runs, InMemoryRuns)
    assert rt.runs.recorded == {("weekly", DAY.isoformat()): {"requests": len(Stat)}}
    assert [s.job for s in jobs.schedules()] == ["daily", "weekly"]
