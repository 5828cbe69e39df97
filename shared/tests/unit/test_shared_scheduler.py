"""The one scheduler (platform.scheduler): run times in US/Eastern across DST, the game day a
run is for, and how a job runs: once across replicas (lock), once per run key (RunLog), never
recorded when it fails, and a loop that keeps going after a failure."""

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import pytest

from statmuse_shared.platform import scheduler
from statmuse_shared.platform.scheduler import (
    EASTERN,
    Outcome,
    Schedule,
    next_daily_at,
    next_weekly_at,
    run_forever,
    run_once_locked,
    yesterday,
)

UTC = dt.UTC


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=EASTERN)


@pytest.mark.parametrize(
    ("now_utc", "expected_local"),
    [
        # 05:59 Eastern (EST, UTC-5) -> 06:00 the same day.
        (dt.datetime(2024, 1, 10, 10, 59, tzinfo=UTC), dt.datetime(2024, 1, 10, 6, 0)),
        # 06:00 exactly -> tomorrow (strictly after now).
        (dt.datetime(2024, 1, 10, 11, 0, tzinfo=UTC), dt.datetime(2024, 1, 11, 6, 0)),
        # Summer (EDT, UTC-4).
        (dt.datetime(2024, 7, 1, 12, 0, tzinfo=UTC), dt.datetime(2024, 7, 2, 6, 0)),
        # The night clocks spring forward (2024-03-10): still 06:00 wall-clock.
        (dt.datetime(2024, 3, 10, 5, 0, tzinfo=UTC), dt.datetime(2024, 3, 10, 6, 0)),
        # The evening before clocks fall back (2024-11-03).
        (dt.datetime(2024, 11, 3, 2, 0, tzinfo=UTC), dt.datetime(2024, 11, 3, 6, 0)),
    ],
)
def test_next_daily_is_wall_clock_eastern(now_utc: dt.datetime, expected_local: dt.datetime):
    run = next_daily_at(now_utc, hour=6)
    assert run > now_utc
    assert run.astimezone(EASTERN).replace(tzinfo=None) == expected_local


def test_next_daily_offsets_follow_dst_and_minutes():
    winter = next_daily_at(dt.datetime(2024, 1, 10, 12, 0, tzinfo=UTC), hour=6)
    summer = next_daily_at(dt.datetime(2024, 7, 10, 12, 0, tzinfo=UTC), hour=6)
    assert (winter.astimezone(UTC).hour, summer.astimezone(UTC).hour) == (11, 10)
    assert next_daily_at(at(2024, 3, 5, 7, 0), hour=7, minute=30) == at(2024, 3, 5, 7, 30)


def test_next_weekly_is_the_coming_weekday():
    # 2024-03-06 is a Wednesday; weekday 6 is Sunday.
    assert next_weekly_at(at(2024, 3, 6, 12, 0), weekday=6, hour=8) == at(2024, 3, 10, 8, 0)
    assert next_weekly_at(at(2024, 3, 10, 7, 59), weekday=6, hour=8) == at(2024, 3, 10, 8, 0)
    assert next_weekly_at(at(2024, 3, 10, 8, 0), weekday=6, hour=8) == at(2024, 3, 17, 8, 0)


def test_yesterday_is_the_eastern_calendar_day_before():
    # 03:00 UTC on the 11th is still the 10th in New York: yesterday is the 9th.
    assert yesterday(dt.datetime(2024, 1, 11, 3, 0, tzinfo=UTC)) == dt.date(2024, 1, 9)


class Locks:
    """Advisory locks of one PostgreSQL, in memory: `try_advisory_lock` stands in for it."""

    def __init__(self) -> None:
        self.held: set[str] = set()

    @asynccontextmanager
    async def lock(self, _pool: Any, name: str) -> AsyncIterator[bool]:
        if name in self.held:
            yield False
            return
        self.held.add(name)
        try:
            yield True
        finally:
            self.held.discard(name)


class Runs:
    def __init__(self) -> None:
        self.recorded: dict[tuple[str, str], Mapping[str, Any]] = {}

    async def done(self, job: str, run_key: str) -> bool:
        return (job, run_key) in self.recorded

    async def record(self, job: str, run_key: str, detail: Mapping[str, Any]) -> None:
        self.recorded[(job, run_key)] = detail


class FakeDb:
    pool = None


@pytest.fixture
def locks(monkeypatch: pytest.MonkeyPatch) -> Locks:
    found = Locks()
    monkeypatch.setattr(scheduler, "try_advisory_lock", found.lock)
    return found


async def test_one_replica_runs_while_another_holds_the_lock(locks: Locks) -> None:
    started, release = asyncio.Event(), asyncio.Event()
    calls = 0

    async def work() -> dict[str, int]:
        nonlocal calls
        calls += 1
        started.set()
        await release.wait()
        return {"calls": calls}

    runs = Runs()
    kwargs: dict[str, Any] = {"lock": "job-daily", "job": "daily", "runs": runs}
    first = asyncio.create_task(run_once_locked(FakeDb(), run_key="d1", work=work, **kwargs))  # type: ignore[arg-type]
    await asyncio.wait_for(started.wait(), 5)
    second = await run_once_locked(FakeDb(), run_key="d1", work=work, **kwargs)  # type: ignore[arg-type]
    release.set()
    assert await first == Outcome.RAN
    assert second == Outcome.SKIPPED
    # Later (a clock behind, a restart): the run is recorded, so it is skipped; a new day runs.
    again = await run_once_locked(FakeDb(), run_key="d1", work=work, **kwargs)  # type: ignore[arg-type]
    next_day = await run_once_locked(FakeDb(), run_key="d2", work=work, **kwargs)  # type: ignore[arg-type]
    assert (again, next_day) == (Outcome.SKIPPED, Outcome.RAN)
    assert calls == 2
    assert runs.recorded[("daily", "d1")] == {"calls": 1}


async def test_a_failed_run_is_not_recorded_and_releases_the_lock(locks: Locks) -> None:
    runs = Runs()

    async def boom() -> None:
        raise RuntimeError("broker down")

    with pytest.raises(RuntimeError, match="broker down"):
        await run_once_locked(FakeDb(), lock="l", job="j", run_key="k", work=boom, runs=runs)  # type: ignore[arg-type]
    assert runs.recorded == {}
    assert locks.held == set()

    async def fine() -> None:
        return None

    outcome = await run_once_locked(FakeDb(), lock="l", job="j", run_key="k", work=fine, runs=runs)  # type: ignore[arg-type]
    assert outcome == Outcome.RAN
    assert runs.recorded == {("j", "k"): {}}


async def test_run_forever_runs_each_schedule_for_yesterday_and_survives_a_failure() -> None:
    waits: list[float] = []

    async def no_wait(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(0)

    now = dt.datetime(2024, 3, 6, 12, 0, tzinfo=UTC)
    days: list[dt.date] = []
    done = asyncio.Event()

    async def job(day: dt.date) -> None:
        days.append(day)
        if len(days) == 1:
            raise RuntimeError("first run fails")
        if len(days) == 3:
            done.set()

    schedule = Schedule("daily", lambda t: t + dt.timedelta(hours=1), job)
    task = asyncio.create_task(run_forever([schedule], clock=lambda: now, sleep=no_wait))
    await asyncio.wait_for(done.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert days[:3] == [dt.date(2024, 3, 5)] * 3
    assert waits[:3] == [3600.0] * 3
