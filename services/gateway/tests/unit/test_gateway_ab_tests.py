"""GET /api/models/ab and /api/models/{stat}/ab: the trainer's A/B reports as the gateway
stored them (the newest per stat; a late older one changes nothing); 404 with a reason when a
stat has none, 422 for a stat that does not exist."""

import datetime as dt

import httpx
import pytest

from statmuse_gateway.app import create_app
from statmuse_gateway.handlers import on_ab_tests
from statmuse_shared.contract.messages import AbLook, AbTestReported, ArmScore, Interval
from statmuse_shared.contract.stats import Stat

from .fakes import fake_runtime, settings

DAY = dt.date(2024, 3, 20)


def report(stat: Stat, last_day: dt.date, verdict: str = "keep running") -> AbTestReported:
    arm = ArmScore(n=900, brier=0.24, log_loss=0.67, picks=880, hit_rate=0.52, books_n=0,
                   brier_vs_books=None)  # fmt: skip
    return AbTestReported(
        event_id=f"ab-{stat.value}-{last_day}",
        stat=stat,
        production_version="v1",
        challenger_version="v2",
        verdict=verdict,  # type: ignore[arg-type]
        decided_on=last_day if verdict != "keep running" else None,
        first_day=DAY,
        last_day=last_day,
        alpha=0.05,
        margin=0.002,
        min_pairs=500,
        production=arm,
        challenger=arm.model_copy(update={"brier": 0.25}),
        brier_difference=Interval(estimate=0.01, low=0.002, high=0.018),
        log_loss_difference=Interval(estimate=0.02, low=0.004, high=0.036),
        looks=[AbLook(day=last_day, n=900, estimate=0.01, low=0.002, high=0.018)],
    )


@pytest.fixture
async def http():
    config = settings()
    rt = fake_runtime(config)
    app = create_app(config, runtime=rt)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield rt, client


async def test_the_newest_report_of_each_stat_is_served(http):
    rt, client = http
    later = DAY + dt.timedelta(days=3)
    await on_ab_tests([report(Stat.POINTS, later, "challenger worse")], rt)
    await on_ab_tests([report(Stat.POINTS, DAY), report(Stat.ASSISTS, DAY)], rt)  # late, older
    listed = (await client.get("/api/models/ab")).json()
    assert [(r["stat"], r["last_day"]) for r in listed] == [
        ("assists", DAY.isoformat()),
        ("points", later.isoformat()),
    ]
    one = await client.get("/api/models/points/ab")
    assert one.status_code == 200
    assert one.json()["verdict"] == "challenger worse"
    assert one.json()["brier_difference"] == {"estimate": 0.01, "low": 0.002, "high": 0.018}


async def test_a_stat_without_a_test_is_404_and_an_unknown_stat_422(http):
    _, client = http
    missing = await client.get("/api/models/rebounds/ab")
    assert missing.status_code == 404
    assert "PREDICTOR_AB_SHARE" in missing.json()["detail"]
    assert (await client.get("/api/models/dunks/ab")).status_code == 422
