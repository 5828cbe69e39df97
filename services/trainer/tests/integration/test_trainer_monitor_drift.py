"""The monitor against real PostgreSQL and the broker: a shifted feature distribution makes the
drift job publish TrainRequested(reason="drift") on the real commands topic, an unshifted one
does not; the cooldown holds across concurrent runs; predictions are stored once and settled
into the daily metrics table."""

import datetime as dt
import json
import time
from collections.abc import Callable

import numpy as np
import pytest
from aiokafka import AIOKafkaConsumer
from prometheus_client import REGISTRY

from statmuse_shared.contract import topics
from statmuse_shared.contract.messages import (
    DistributionSummary,
    LineProbability,
    PredictionMade,
    TrainRequested,
)
from statmuse_shared.contract.stats import Stat
from statmuse_shared.platform.broker import ensure_topics, publish
from statmuse_shared.platform.db import create_pool
from statmuse_shared.platform.migrations import migrate
from statmuse_trainer.app import build_runtime
from statmuse_trainer.monitoring import drift, jobs
from statmuse_trainer.runtime import TrainerRuntime
from statmuse_trainer.settings import TrainerSettings

pytestmark = pytest.mark.integration

DAY = dt.date(2024, 3, 20)  # the recent window is the 14 days ending here
NOW = dt.datetime(2024, 3, 21, 11, 0, tzinfo=dt.UTC)
SHIFTED = ("points_sma_10", "points_ema", "points_season_avg")  # points' (pra's, pr's, pa's)
DRIFTED = ["pa", "points", "pr", "pra"]  # the stats whose models read them


def vector(rng: np.random.Generator, shift: float) -> dict[str, float | None]:
    """Synthetic features (tests only): three points features move by `shift`; the rest,
    context, minutes and another stat's, stay put; a count and a missing value too."""
    return {
        "points_sma_10": rng.normal(20, 5) + shift,
        "points_ema": rng.normal(20, 5) + shift,
        "points_season_avg": rng.normal(20, 4) + shift,
        "points_std_10": None if rng.random() < 0.1 else rng.normal(6, 1),
        "points_n_10": 10.0,
        "minutes_sma_10": rng.normal(30, 4),
        "rebounds_sma_10": rng.normal(6, 2),
        "opp_def_rating": rng.normal(112, 3),
        "days_rest": float(rng.choice([1, 2, 3])),
    }


async def load_examples(pool, *, shift: float, seed: int) -> None:
    """600 reference games in Nov-Jan, 300 recent games in the 14 days ending on DAY."""
    rng = np.random.default_rng(seed)
    rows = []
    for player in range(1, 61):
        for k in range(10):
            day = dt.date(2023, 11, 1) + dt.timedelta(days=9 * k + player % 9)
            rows.append((player, day, vector(rng, 0.0)))
    for player in range(1, 31):
        for k in range(10):
            rows.append((player, DAY - dt.timedelta(days=k), vector(rng, shift)))
    async with pool.acquire() as conn:
        await conn.executemany(
            """INSERT INTO registry.training_examples (player_id, as_of, feature_set_version,
                   season, features, outcome, game_date, event_id, player_name)
               VALUES ($1, $2, 'fs-2', '2023-24', $3::jsonb, $4::jsonb, $2, $5, $6)""",
            [
                (
                    p,
                    d,
                    json.dumps(f),
                    json.dumps(
                        {
                            "game_date": d.isoformat(),
                            "minutes": 30,
                            "points": 20,
                            "rebounds": 5,
                            "assists": 4,
                            "threes": 2,
                        }
                    ),
                    f"e-{p}-{d}",
                    f"Player {p}",
                )
                for p, d, f in rows
            ],
        )


async def read_until(
    bootstrap: str, done: Callable[[list[TrainRequested]], bool], deadline_s: float = 30
) -> list[TrainRequested]:
    """Every TrainRequested on the real topic, read with a real consumer until `done` holds
    (or the deadline passes)."""
    consumer = AIOKafkaConsumer(
        topics.TRAIN_REQUESTS,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[TrainRequested] = []
    try:
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline and not done(found):
            batch = await consumer.getmany(timeout_ms=300)
            found += [
                TrainRequested.model_validate_json(r.value)
                for records in batch.values()
                for r in records
            ]
    finally:
        await consumer.stop()
    return found


async def setup(database_url: str, kafka_bootstrap: str, unique: str):
    """A pool for the test's own reads and writes, and the trainer's runtime (database open,
    broker connected to publish)."""
    await migrate(database_url, schemas=["registry"])
    await ensure_topics(kafka_bootstrap, topics.all_with_dead_letters())
    pool = await create_pool(database_url)
    rt = build_runtime(settings(database_url, kafka_bootstrap, group_id=f"trainer-{unique}"))
    await rt.db.open()
    await rt.broker.connect()
    return pool, rt


async def teardown(pool, rt: TrainerRuntime) -> None:
    await rt.broker.stop()
    await rt.db.close()
    await pool.close()


def settings(database_url: str, kafka_bootstrap: str = "", **more) -> TrainerSettings:
    kafka = {"kafka_bootstrap_servers": kafka_bootstrap} if kafka_bootstrap else {}
    return TrainerSettings(database_url=database_url, monitor_recent_days=14, **kafka, **more)


def alerts(stat: str) -> float:
    return REGISTRY.get_sample_value("statmuse_monitor_drift_alerts_total", {"stat": stat}) or 0.0


async def test_shifted_features_publish_train_requested(database_url, kafka_bootstrap, unique):
    pool, rt = await setup(database_url, kafka_bootstrap, unique)
    try:
        await load_examples(pool, shift=8.0, seed=11)
        before = alerts("points")
        summary = await jobs.check_drift(rt, DAY, now=NOW)
        found = await read_until(kafka_bootstrap, lambda f: len(f) >= len(DRIFTED))
        # Run again an hour later: the same drift, within the cooldown, publishes nothing.
        again = await jobs.check_drift(rt, DAY, now=NOW + dt.timedelta(hours=1))
        async with pool.acquire() as conn:
            reported = {
                r["name"]: r
                for r in await conn.fetch(
                    "SELECT * FROM registry.monitor_drift_reports WHERE scope = 'features'"
                )
            }
            alert_rows = await conn.fetch("SELECT stat FROM registry.monitor_drift_alerts")
    finally:
        await teardown(pool, rt)

    assert (summary.reference_rows, summary.recent_rows) == (600, 300)
    assert sorted(d.stat.value for d in summary.decisions if d.fire) == DRIFTED
    drift_requests = [r for r in found if r.reason == "drift"]
    assert sorted(r.stat.value for r in drift_requests) == DRIFTED
    assert all(
        r.requested_by == "monitor" and r.model_kind == "pooled" and not r.promote
        for r in drift_requests
    )
    assert again.drifted
    assert again.published == []
    assert sorted(r["stat"] for r in alert_rows) == DRIFTED
    assert alerts("points") == before + 1
    for name in SHIFTED:
        assert reported[name]["drifted"]
        assert reported[name]["psi"] > 0.2
    assert not reported["minutes_sma_10"]["drifted"]
    assert not reported["points_n_10"]["counted"]
    assert reported["points_std_10"]["recent_missing"] > 0
    psi = REGISTRY.get_sample_value("statmuse_monitor_drift_psi", {"feature": "points_sma_10"})
    ks = REGISTRY.get_sample_value("statmuse_monitor_drift_ks", {"feature": "points_sma_10"})
    assert psi is not None
    assert psi > 0.2
    assert ks is not None
    assert ks > 0.5


async def test_unshifted_features_publish_nothing(database_url, kafka_bootstrap, unique):
    pool, rt = await setup(database_url, kafka_bootstrap, unique)
    try:
        await load_examples(pool, shift=0.0, seed=12)
        summary = await jobs.check_drift(rt, DAY, now=NOW)
        # A sentinel per stat, on the key a drift request would use: once all five are read,
        # anything check_drift published (acknowledged before it returned) has been read too.
        for stat in Stat:
            sentinel = TrainRequested(event_id=f"sentinel-{stat}", stat=stat, reason="sentinel")
            await publish(rt.broker, sentinel, topic=topics.TRAIN_REQUESTS, key=stat.value.encode())
        found = await read_until(
            kafka_bootstrap, lambda f: sum(r.reason == "sentinel" for r in f) == len(Stat)
        )
    finally:
        await teardown(pool, rt)
    assert sum(r.reason == "sentinel" for r in found) == len(Stat)
    assert [r for r in found if r.reason == "drift"] == []
    assert not summary.drifted
    assert summary.published == []
    assert summary.recent_rows == 300


async def test_cooldown_holds_across_concurrent_runs(database_url, kafka_bootstrap, unique):
    import asyncio

    pool, rt = await setup(database_url, kafka_bootstrap, unique)
    decision = drift.StatDecision(Stat.ASSISTS, True, ("a", "b", "c"), (), 80, "test")
    try:
        first = await asyncio.gather(
            *[jobs.alert(rt, decision=decision, day=DAY, now=NOW) for _ in range(2)]
        )
        within = await jobs.alert(rt, decision=decision, day=DAY, now=NOW + dt.timedelta(hours=23))
        after = await jobs.alert(rt, decision=decision, day=DAY, now=NOW + dt.timedelta(hours=25))
        found = await read_until(kafka_bootstrap, lambda f: len(f) >= len(DRIFTED))
    finally:
        await teardown(pool, rt)
    assert sum(r is not None for r in first) == 1  # two replicas at once: one publishes
    assert within is None
    assert after is not None
    assert [r.stat for r in found] == [Stat.ASSISTS, Stat.ASSISTS]


def prediction(player: int, as_of: dt.date, mean: float, over: float) -> PredictionMade:
    lines = [
        LineProbability(
            line=line, over_probability=p, under_probability=1 - p, push_probability=0.0
        )
        for line, p in ((mean - 1.7, 0.8), (round(mean) + 0.5, over), (mean + 2.3, 0.3))
    ]
    return PredictionMade(
        event_id=f"p-{player}-{as_of}",
        player_id=player,
        player_name=f"P{player}",
        stat=Stat.POINTS,
        as_of=as_of,
        predicted_value=mean,
        distribution=DistributionSummary(family="nb", mean=mean, sd=5, quantiles={"q50": mean}),
        lines=lines,
        model_name="points",
        model_version="v1",
        occurred_at=dt.datetime(2024, 3, 19, 15, tzinfo=dt.UTC),
    )


async def insert_games_and_settle(pool, rt: TrainerRuntime, game_day: dt.date):
    """The three players' box scores as stored game vectors, then the day's metrics."""
    async with pool.acquire() as conn:
        await conn.executemany(
            """INSERT INTO registry.training_examples (player_id, as_of, feature_set_version,
                   season, features, outcome, game_date, event_id)
               VALUES ($1, $2, 'fs-2', '2023-24', '{}', $3::jsonb, $2, $4)""",
            [
                (
                    p,
                    game_day,
                    json.dumps(
                        {
                            "game_date": game_day.isoformat(),
                            "minutes": 30,
                            "points": pts,
                            "rebounds": 5,
                            "assists": 4,
                        }
                    ),
                    f"e{p}",
                )
                for p, pts in ((1, 25), (2, 12), (3, 10))
            ],
        )
    return await jobs.daily_metrics(rt, game_day, stats=(Stat.POINTS,))


async def test_predictions_are_stored_once_and_settled_into_daily_metrics(database_url):
    await migrate(database_url, schemas=["registry"])
    pool = await create_pool(database_url)
    rt = build_runtime(settings(database_url))
    game_day = dt.date(2024, 3, 19)
    made = [
        prediction(1, game_day, 21.1, 0.65),  # OVER 21.5 -> 25: win
        prediction(2, game_day, 21.1, 0.65),  # OVER 21.5 -> 12: loss
        prediction(3, game_day, 21.1, 0.30),
    ]  # UNDER 21.5 -> 10: win
    try:
        async with rt.database_only():  # the monitor's PostgreSQL, no broker
            assert await rt.monitor.store_predictions(made) == 3
            assert await rt.monitor.store_predictions(made) == 0  # a redelivery
            rows = await insert_games_and_settle(pool, rt, game_day)
        async with pool.acquire() as conn:
            stored = await conn.fetchrow(
                "SELECT * FROM registry.monitor_daily_metrics WHERE stat = 'points' AND day = $1",
                game_day,
            )
    finally:
        await pool.close()
    [today] = [m for m in rows if m.day == game_day]
    assert (today.predictions, today.bets, today.wins, today.losses) == (3, 3, 2, 1)
    assert stored["hit_rate"] == pytest.approx(2 / 3)
    assert stored["roi"] == pytest.approx((2 * 100 / 110 - 1) / 3)
    # P(over) 0.65, 0.65, 0.30 against over, under, under
    assert stored["brier"] == pytest.approx((0.35**2 + 0.65**2 + 0.30**2) / 3)
    gauge = REGISTRY.get_sample_value("statmuse_monitor_predictions_daily", {"stat": "points"})
    assert gauge == 3
    assert REGISTRY.get_sample_value("statmuse_monitor_hit_rate_7d", {"stat": "points"}) == (
        pytest.approx(2 / 3)
    )
    assert REGISTRY.get_sample_value("statmuse_monitor_negative_roi_days", {"stat": "points"}) == 0
