"""Per-key limits without I/O: a key's own requests a minute (set at creation), and the daily
limit on predictions its holder sets for themselves (lower at once, higher only tomorrow;
beyond it a 429 with help links; never counted when refused; refused when it cannot be
checked)."""

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from statmuse_gateway.adapters.apikeys import ApiKey, DailyLimit
from statmuse_gateway.app import create_app
from statmuse_gateway.runtime import GatewayRuntime
from statmuse_gateway.security import daily
from statmuse_gateway.settings import GatewaySettings

from .fakes import InMemoryApiKeys, fake_runtime

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
NOON = dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)  # 08:00 in New York (EDT)
LATER = dt.timedelta(hours=24)
GOOD = {"player": "LeBron James", "stat": "points", "line": 25.5}


def key(key_id: str, *, rate_limit: int | None = None) -> ApiKey:
    return ApiKey(key_id, f"key {key_id}", ("read",), NOW, rate_limit=rate_limit)


def test_a_lower_daily_limit_applies_at_once_a_higher_one_24_hours_later():
    none = DailyLimit()
    assert none.at(NOON) is None
    ten = none.set_to(10, NOON)
    assert ten == DailyLimit(10)  # a first limit: at once
    five = ten.set_to(5, NOON)
    assert five.at(NOON) == 5  # stricter: at once
    raised = five.set_to(20, NOON)
    assert raised.at(NOON) == 5  # looser: not now...
    assert raised.at(NOON + LATER - dt.timedelta(seconds=1)) == 5  # ...nor at midnight...
    assert raised.at(NOON + LATER) == 20  # ...but 24 hours later
    assert raised.pending(NOON)
    assert not raised.pending(NOON + LATER)
    removed = five.set_to(None, NOON)
    assert removed.at(NOON) == 5
    assert removed.at(NOON + LATER) is None
    # A stricter limit (or the same) while a raise waits cancels the raise.
    assert raised.set_to(3, NOON) == DailyLimit(3)
    assert raised.set_to(5, NOON) == DailyLimit(5)
    # Asking for what is already in force changes nothing, and pends nothing.
    assert none.set_to(None, NOON) == DailyLimit()


def test_the_day_is_new_yorks():
    late_evening = dt.datetime(2026, 3, 11, 3, 30, tzinfo=dt.UTC)  # 23:30 EDT on the 10th
    assert daily.day_of(late_evening) == dt.date(2026, 3, 10)
    assert daily.day_ends(late_evening) == dt.datetime(2026, 3, 11, 4, tzinfo=dt.UTC)
    winter = dt.datetime(2026, 1, 10, 4, 30, tzinfo=dt.UTC)  # 23:30 EST on the 9th
    assert daily.day_of(winter) == dt.date(2026, 1, 9)
    assert daily.day_ends(winter) == dt.datetime(2026, 1, 10, 5, tzinfo=dt.UTC)


@pytest.fixture
async def gateway(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[GatewayRuntime, Any]]:
    clock = {"now": NOON}
    monkeypatch.setattr(daily, "now", lambda: clock["now"])
    config = GatewaySettings(database_url="postgresql://x", rate_limit_per_minute=100)
    keys = InMemoryApiKeys(
        {"t-quota": key("aaaa", rate_limit=2), "t-plain": key("bbbb"), "t-limited": key("cccc")}
    )
    rt = fake_runtime(config, api_keys=keys)
    rt.limiter.clock = lambda: 1_000_000 * 60 + 1.5  # one rate-limit window for the test
    app = create_app(config, runtime=rt)
    transport = httpx.ASGITransport(app=app, client=("10.2.2.2", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        yield rt, (http, clock)


async def test_a_key_has_its_own_requests_a_minute(gateway):
    _, (http, _) = gateway
    quota = [(await http.get("/api/models", headers={"X-API-Key": "t-quota"})) for _ in range(3)]
    assert [r.status_code for r in quota] == [200, 200, 429]
    assert quota[0].headers["x-ratelimit-limit"] == "2"
    assert "2 requests per minute per API key" in quota[2].json()["detail"]
    plain = [(await http.get("/api/models", headers={"X-API-Key": "t-plain"})) for _ in range(3)]
    assert [r.status_code for r in plain] == [200, 200, 200]
    assert plain[0].headers["x-ratelimit-limit"] == "100"


async def test_a_holder_sets_a_daily_limit_and_the_api_keeps_it(gateway):
    rt, (http, clock) = gateway
    headers = {"X-API-Key": "t-limited"}
    me = await http.get("/api/keys/me", headers=headers)
    assert me.status_code == 200
    assert me.json()["daily_limit"] is None
    assert me.json()["rate_limit_per_minute"] == 100
    assert "Gamblers Anonymous" in me.json()["help_links"]

    r = await http.put("/api/keys/me/daily_limit", json={"daily_limit": 3}, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["daily_limit"] == 3
    # Three predictions (a single and a batch of two: one per prop) go through to the model...
    assert (await http.post("/api/predict", json=GOOD, headers=headers)).status_code == 404
    batch = await http.post("/api/batch_predict", json={"items": [GOOD, GOOD]}, headers=headers)
    assert batch.status_code == 200
    # ...the fourth is refused, with the help links and the seconds until midnight UTC.
    refused = await http.post("/api/predict", json=GOOD, headers=headers)
    assert refused.status_code == 429
    body = refused.json()
    assert "daily limit" in body["detail"]
    assert "3" in body["detail"]
    assert "1-800-GAMBLER" in body["help_links"]
    assert int(refused.headers["retry-after"]) == 16 * 3600  # to midnight in New York
    assert body["resets_at"] == "2026-03-11T04:00:00+00:00"
    # A refused batch is refused whole and not counted.
    many = await http.post("/api/batch_predict", json={"items": [GOOD] * 3}, headers=headers)
    assert many.status_code == 429
    assert (await http.get("/api/keys/me", headers=headers)).json()["used_today"] == 3
    # Other keys and keyless clients are not limited by it.
    assert (
        await http.post("/api/predict", json=GOOD, headers={"X-API-Key": "t-plain"})
    ).status_code == 404
    assert (await http.post("/api/predict", json=GOOD)).status_code == 404

    # Raising it waits for tomorrow; tomorrow the count starts again.
    r = await http.put("/api/keys/me/daily_limit", json={"daily_limit": 10}, headers=headers)
    assert r.json()["daily_limit"] == 3
    assert r.json()["pending_daily_limit"] == 10
    assert r.json()["pending_at"] == "2026-03-11T12:00:00Z"
    assert (await http.post("/api/predict", json=GOOD, headers=headers)).status_code == 429
    clock["now"] += LATER
    me = (await http.get("/api/keys/me", headers=headers)).json()
    assert (me["daily_limit"], me["used_today"], me["pending_daily_limit"]) == (10, 0, None)
    assert (await http.post("/api/predict", json=GOOD, headers=headers)).status_code == 404


async def test_a_daily_limit_that_cannot_be_checked_refuses(gateway):
    rt, (http, _) = gateway
    headers = {"X-API-Key": "t-limited"}
    await http.put("/api/keys/me/daily_limit", json={"daily_limit": 3}, headers=headers)
    rt.api_keys.down = True  # PostgreSQL down: neither the key nor its count can be read
    r = await http.post("/api/predict", json=GOOD, headers=headers)
    assert r.status_code == 503
    assert "daily limit" in r.json()["detail"]
    # A client without a key is not affected.
    assert (await http.post("/api/predict", json=GOOD)).status_code == 404


@pytest.mark.parametrize("value", [-1, 10_001, 2.5, "5", True])
async def test_a_daily_limit_must_be_a_sensible_whole_number(gateway, value):
    _, (http, _) = gateway
    r = await http.put(
        "/api/keys/me/daily_limit", json={"daily_limit": value}, headers={"X-API-Key": "t-plain"}
    )
    assert r.status_code == 422


async def test_the_limits_endpoints_need_a_key(gateway):
    _, (http, _) = gateway
    assert (await http.get("/api/keys/me")).status_code == 401
    assert (await http.put("/api/keys/me/daily_limit", json={"daily_limit": 1})).status_code == 401
    bad = await http.get("/api/keys/me", headers={"X-API-Key": "t-nobody"})
    assert bad.status_code == 401
