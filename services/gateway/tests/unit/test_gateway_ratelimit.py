"""The rate-limit middleware through the real app, its counter and API keys in memory: every
request is counted once, before the route runs; a refused one gets the 429 with its headers
and never reaches the route; probes and preflights are not counted; a valid key has a budget
of its own; with the counter down every request is served."""

import datetime as dt
from collections.abc import AsyncIterator
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI

from statmuse_gateway import metrics
from statmuse_gateway.adapters.apikeys import ApiKey
from statmuse_gateway.app import create_app
from statmuse_gateway.runtime import GatewayRuntime
from statmuse_gateway.security.keys import require_scope

from .fakes import InMemoryApiKeys, InMemoryCounter, fake_runtime, settings

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
READER = ApiKey("0123456789abcdef", "reader", ("read",), NOW)
WRITER = ApiKey("fedcba9876543210", "writer", ("write",), NOW)
REVOKED = ApiKey("00000000000000aa", "gone", ("admin",), NOW, NOW)
KEYS = {"t-reader": READER, "t-writer": WRITER, "t-revoked": REVOKED}
WINDOW = 28_000_000  # a minute of its own; the clock is 1.5 s into it


def app_with(rt: GatewayRuntime) -> tuple[FastAPI, list[str]]:
    app = create_app(rt.settings, runtime=rt)
    rt.limiter.clock = lambda: WINDOW * 60 + 1.5
    reached: list[str] = []

    async def ping() -> dict[str, str]:
        reached.append("ping")
        return {"pong": "ok"}

    async def write(key: Annotated[ApiKey, Depends(require_scope("write"))]) -> dict[str, str]:
        reached.append("write")
        return {"key_id": key.key_id}

    app.add_api_route("/api/test/ping", ping, methods=["GET"])
    app.add_api_route("/api/test/write", write, methods=["POST"])
    return app, reached


@pytest.fixture
async def limited() -> AsyncIterator[tuple[GatewayRuntime, httpx.AsyncClient, list[str]]]:
    rt = fake_runtime(settings(rate_limit_per_minute=3), api_keys=InMemoryApiKeys(dict(KEYS)))
    app, reached = app_with(rt)
    transport = httpx.ASGITransport(app=app, client=("10.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield rt, client, reached


def counter(rt: GatewayRuntime) -> InMemoryCounter:
    assert isinstance(rt.limiter.counter, InMemoryCounter)
    return rt.limiter.counter


def keys(rt: GatewayRuntime) -> InMemoryApiKeys:
    assert isinstance(rt.api_keys, InMemoryApiKeys)
    return rt.api_keys


async def test_counted_once_before_the_route_and_refused_without_reaching_it(
    limited: tuple[GatewayRuntime, httpx.AsyncClient, list[str]],
) -> None:
    rt, client, reached = limited
    before = metrics.RATE_LIMITED.labels("ip")._value.get()
    answers = [await client.get("/api/test/ping") for _ in range(3)]
    assert [r.status_code for r in answers] == [200] * 3
    assert [r.headers["x-ratelimit-remaining"] for r in answers] == ["2", "1", "0"]
    assert {r.headers["x-ratelimit-limit"] for r in answers} == {"3"}
    assert reached == ["ping"] * 3

    refused = await client.get("/api/test/ping", headers={"Origin": "http://localhost:3000"})
    assert refused.status_code == 429
    assert refused.json() == {
        "detail": "rate limit exceeded: 3 requests per minute per client address; retry in 59 s"
    }
    assert (refused.headers["retry-after"], refused.headers["x-ratelimit-remaining"]) == ("59", "0")
    assert refused.headers["x-ratelimit-limit"] == "3"
    assert refused.headers["access-control-allow-origin"] == "http://localhost:3000"  # CORS
    # Whatever it would have come to (a 422, a 404): refused before any route ran.
    assert (await client.post("/api/predict", json={"line": 1})).status_code == 429
    assert (await client.get("/api/nowhere")).status_code == 429
    assert reached == ["ping"] * 3
    assert counter(rt).counts == {f"ratelimit:ip:10.0.0.1:{WINDOW}": 6}
    assert counter(rt).expiry == {f"ratelimit:ip:10.0.0.1:{WINDOW}": 61}
    assert metrics.RATE_LIMITED.labels("ip")._value.get() == before + 3


async def test_probes_and_preflights_are_not_counted(
    limited: tuple[GatewayRuntime, httpx.AsyncClient, list[str]],
) -> None:
    rt, client, _ = limited
    for path in ("/health", "/metrics", "/health", "/metrics"):
        r = await client.get(path)
        assert r.status_code == 200
        assert "x-ratelimit-remaining" not in r.headers
    preflight = await client.options(
        "/api/predict",
        headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 200
    assert counter(rt).calls == 0


async def test_a_valid_key_has_a_budget_of_its_own_and_is_looked_up_once(
    limited: tuple[GatewayRuntime, httpx.AsyncClient, list[str]],
) -> None:
    rt, client, reached = limited
    before = metrics.RATE_LIMITED.labels("key")._value.get()
    writes = [
        await client.post("/api/test/write", headers={"X-API-Key": "t-writer"}) for _ in range(3)
    ]
    assert [r.json() for r in writes] == [{"key_id": WRITER.key_id}] * 3
    # One lookup per request, shared by the limiter and the route's dependency.
    assert keys(rt).lookups == 3
    limited_key = await client.post("/api/test/write", headers={"X-API-Key": "t-writer"})
    assert limited_key.status_code == 429
    assert "per API key" in limited_key.json()["detail"]
    assert metrics.RATE_LIMITED.labels("key")._value.get() == before + 1
    # The address still has its budget; a wrong or revoked key counts against the address.
    assert (await client.get("/api/test/ping", headers={"X-API-Key": "nope"})).status_code == 200
    revoked = await client.get("/api/test/ping", headers={"X-API-Key": "t-revoked"})
    assert revoked.headers["x-ratelimit-remaining"] == "1"
    assert reached == ["write"] * 3 + ["ping"] * 2


async def test_with_keys_down_the_client_is_limited_by_address() -> None:
    rt = fake_runtime(settings(rate_limit_per_minute=3), api_keys=InMemoryApiKeys(down=True))
    app, _ = app_with(rt)
    transport = httpx.ASGITransport(app=app, client=("10.0.0.2", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        ping = await client.get("/api/test/ping", headers={"X-API-Key": "t-reader"})
        write = await client.post("/api/test/write", headers={"X-API-Key": "t-writer"})
    assert ping.status_code == 200
    assert write.status_code == 503
    assert write.headers["retry-after"] == "5"
    assert list(counter(rt).counts) == [f"ratelimit:ip:10.0.0.2:{WINDOW}"]
    assert keys(rt).lookups == 2  # one per request: the route's dependency did not try again


async def test_with_the_counter_down_every_request_is_served_and_it_is_left_alone() -> None:
    down = InMemoryCounter(down=True)
    rt = fake_runtime(settings(rate_limit_per_minute=1), counter=down)
    app, reached = app_with(rt)
    transport = httpx.ASGITransport(app=app, client=("10.0.0.3", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        answers = [await client.get("/api/test/ping") for _ in range(4)]
    assert [r.status_code for r in answers] == [200] * 4
    assert all("x-ratelimit-remaining" not in r.headers for r in answers)
    assert reached == ["ping"] * 4
    assert down.calls == 1  # backing off: no time-out per request


async def test_read_keys_when_required() -> None:
    rt = fake_runtime(
        settings(require_key_for_reads=True, rate_limit_per_minute=100),
        api_keys=InMemoryApiKeys(dict(KEYS)),
    )
    app, reached = app_with(rt)
    transport = httpx.ASGITransport(app=app, client=("10.0.0.4", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        missing = await client.get("/api/test/ping")
        bad = await client.get("/api/test/ping", headers={"X-API-Key": "t-revoked"})
        ok = await client.get("/api/test/ping", headers={"X-API-Key": "t-reader"})
        free = await client.get("/dashboard")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == 'ApiKey header="X-API-Key"'
    assert bad.status_code == 401
    assert "revoked" in bad.json()["detail"]
    assert ok.json() == {"pong": "ok"}
    assert free.status_code == 200
    assert reached == ["ping"]
    assert keys(rt).lookups == 2  # the limiter's lookup, reused by the read-key check
