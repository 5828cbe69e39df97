"""`statmuse status`: each service's consumer lag, read from its own /metrics."""

from prometheus_client import CollectorRegistry, Gauge, generate_latest

from statmuse_ops.stack import consumer_lag


def test_status_reads_the_lag_from_a_services_metrics() -> None:
    registry = CollectorRegistry()
    gauge = Gauge(
        "statmuse_consumer_lag", "lag", ["group", "topic", "partition"], registry=registry
    )
    gauge.labels("features", "nba.games.raw.v1", "0").set(3)
    gauge.labels("features", "nba.games.raw.v1", "1").set(4)
    gauge.labels("features-schedule", "nba.schedule.v1", "0").set(0)
    text = generate_latest(registry).decode()
    assert consumer_lag(text) == {
        "features nba.games.raw.v1": 7.0,
        "features-schedule nba.schedule.v1": 0.0,
    }
