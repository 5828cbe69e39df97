"""The composition root: the runtime over fakes, the gauges restored when it starts (and a
start that cannot restore them still starts), and the service app around it."""

import datetime as dt
import math

import pytest
from prometheus_client import REGISTRY

from statmuse_shared.contract.stats import Stat
from statmuse_trainer import app as trainer_app
from statmuse_trainer.handlers import asyncapi_router
from statmuse_trainer.monitoring.performance import DayMetrics
from statmuse_trainer.runtime import TrainerRuntime
from statmuse_trainer.settings import TrainerSettings

from .fakes import InMemoryMonitor


def gauge(name: str, stat: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"stat": stat})


def day(d: dt.date, roi: float | None, predictions: int = 4) -> DayMetrics:
    return DayMetrics(
        Stat.THREES,
        d,
        predictions,
        3,
        1,
        2,
        0,
        1 / 3,
        0.2,
        0.05,
        roi,
        -1.0,
        0.5,
        0.4,
        9,
        0.45,
        None,
    )


async def test_starting_restores_the_monitoring_gauges(rt: TrainerRuntime) -> None:
    assert isinstance(rt.monitor, InMemoryMonitor)
    d = dt.date(2024, 3, 20)
    await rt.monitor.save_day_metrics(
        [day(d - dt.timedelta(days=1), -0.2, 7), day(d, -0.1)]  # two losing days
    )
    await rt.started()
    assert gauge("statmuse_monitor_predictions_daily", "threes") == 4  # the newest day
    assert gauge("statmuse_monitor_hit_rate_7d", "threes") == pytest.approx(0.45)
    assert math.isnan(gauge("statmuse_monitor_ece_7d", "threes") or 0.0)
    assert gauge("statmuse_monitor_negative_roi_days", "threes") == 2


async def test_a_start_that_cannot_restore_the_gauges_still_starts(
    rt: TrainerRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(**_: object) -> list[DayMetrics]:
        raise ConnectionError("PostgreSQL went away")

    rt.monitor.latest_day_metrics = broken  # type: ignore[method-assign]
    await rt.started()
    assert "could not restore the monitoring gauges" in caplog.text


def test_create_app_serves_the_runtime_and_registers_the_trainers_channels() -> None:
    settings = TrainerSettings(database_url="postgresql://unused@localhost/none")
    service = trainer_app.create_app(settings)
    rt = service.state.runtime
    assert isinstance(rt, TrainerRuntime)
    groups = {
        (s.group_id, str(getattr(t, "name", t))) for s in rt.broker.subscribers for t in s.topics
    }
    assert groups == {
        ("trainer", "nba.features.v2"),
        ("trainer-commands", "nba.train.requests.v1"),
        ("trainer-model-commands", "nba.models.commands.v1"),
        ("trainer-monitor", "nba.predictions.v1"),
        ("trainer-ab-props", "nba.props.priced.v1"),
    }
    documented = {s.group_id for s in asyncapi_router().subscribers}
    assert documented == {g for g, _ in groups}
