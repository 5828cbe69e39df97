"""Scheduled jobs against real PostgreSQL and the broker: two concurrent runs, one does the
work; a run already recorded for the day is skipped; a failed run is not recorded; the weekly
job, run by hand as the service runs it, requests every stat once."""

import asyncio
import datetime as dt

import pytest

from statmuse_shared.contract import topics
from statmuse_shared.contract.stats import Stat
from statmuse_shared.platform.broker import ensure_topics
from statmuse_shared.platform.db import Database, create_pool
from statmuse_shared.platform.migrations import migrate
from statmuse_trainer.adapters.scheduled_runs import PostgresScheduledRuns
from statmuse_trainer.app import build_runtime
from statmuse_trainer.schedule import WEEKLY, Jobs, run_locked
from statmuse_trainer.settings import TrainerSettings

from .test_trainer_monitor_drift import read_until

pytestmark = pytest.mark.integration


async def test_two_concurrent_runs_one_does_the_work(database_url):
    await migrate(database_url, schemas=["registry"])
    pool = await create_pool(database_url)
    db = Database.of(pool)
    runs = PostgresScheduledRuns(db)
    started, release = asyncio.Event(), asyncio.Event()
    calls = 0

    async def work() -> dict[str, int]:
        nonlocal calls
        calls += 1
        started.set()
        await release.wait()  # hold the lock until the other replica has tried
        return {"calls": calls}

    try:
        first = asyncio.create_task(
            run_locked(db, runs, job="daily", run_key="2024-03-20", work=work)
        )
        await asyncio.wait_for(started.wait(), 10)
        second = await run_locked(db, runs, job="daily", run_key="2024-03-20", work=work)
        release.set()
        assert await asyncio.wait_for(first, 10)
        # Later (a replica whose clock is behind, or a restart): the day is done, skipped.
        third = await run_locked(db, runs, job="daily", run_key="2024-03-20", work=work)
        next_day = await run_locked(db, runs, job="daily", run_key="2024-03-21", work=work)
    finally:
        release.set()
        await pool.close()
    assert (second, third, next_day) == (False, False, True)
    assert calls == 2


async def test_a_failed_run_is_not_recorded(database_url):
    await migrate(database_url, schemas=["registry"])
    pool = await create_pool(database_url)
    db = Database.of(pool)
    runs = PostgresScheduledRuns(db)

    async def boom() -> dict[str, int]:
        raise RuntimeError("broker down")

    async def fine() -> dict[str, int]:
        return {}

    try:
        with pytest.raises(RuntimeError):
            await run_locked(db, runs, job="weekly", run_key="2024-03-16", work=boom)
        assert await run_locked(db, runs, job="weekly", run_key="2024-03-16", work=fine)
    finally:
        await pool.close()


async def test_weekly_job_requests_every_stat_once(database_url, kafka_bootstrap, unique):
    await migrate(database_url, schemas=["registry"])
    await ensure_topics(kafka_bootstrap, topics.all_with_dead_letters())
    settings = TrainerSettings(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap,
        group_id=f"trainer-{unique}",
    )
    day = dt.date(2024, 3, 16)
    async with build_runtime(settings).running(consume=False) as rt:
        jobs = Jobs(rt)
        ran = [await jobs.run(WEEKLY, day), await jobs.run(WEEKLY, day)]
        found = await read_until(kafka_bootstrap, lambda f: len(f) >= len(Stat))
    assert ran == [True, False]
    assert sorted(r.stat.value for r in found) == sorted(s.value for s in Stat)
    assert {(r.reason, r.model_kind, r.player_id) for r in found} == {("schedule", "pooled", None)}
