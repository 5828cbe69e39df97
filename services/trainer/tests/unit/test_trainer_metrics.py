"""The monitor's gauges the alert rules read (deploy/prometheus/alerts.yml)."""

import datetime as dt

from prometheus_client import REGISTRY

from statmuse_shared.contract.stats import Stat
from statmuse_trainer.monitoring.jobs import export_day
from statmuse_trainer.monitoring.performance import DayMetrics


def _sample(name: str, stat: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"stat": stat})


def test_the_hit_rate_is_exported_with_its_sample_size() -> None:
    day = DayMetrics(
        stat=Stat.STOCKS,
        day=dt.date(2024, 3, 20),
        predictions=40,
        bets=25,
        wins=14,
        losses=11,
        pushes=0,
        hit_rate=0.56,
        brier=0.24,
        ece=0.05,
        roi=0.07,
        profit=1.7,
        mean_over_probability=0.5,
        over_rate=0.5,
        bets_7d=180,
        hit_rate_7d=0.55,
        ece_7d=0.04,
    )
    export_day(day, negative_days=2)
    assert _sample("statmuse_monitor_hit_rate_7d", "stocks") == 0.55
    assert _sample("statmuse_monitor_bets_7d", "stocks") == 180


def test_every_stat_has_a_drift_alert_series_from_the_start() -> None:
    # A counter that appears at 1 has no increase() in Prometheus: the first alert would be lost.
    for stat in Stat:
        assert _sample("statmuse_monitor_drift_alerts_total", stat.value) is not None
