"""API keys, rate limiting and the body-size limit against real PostgreSQL and Redis, through
the real app (its middleware stack), without its lifespan: the tests open the pool and Redis
client the lifespan would, so no broker is needed."""

import asyncio
import datetime as dt
import random
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from redis.asyncio import Redis
from typer.testing import CliRunner

from statmuse_gateway import metrics
from statmuse_gateway.adapters import apikeys
from statmuse_gateway.adapters.apikeys import ApiKey
from statmuse_gateway.app import build_runtime, create_app
from statmuse_gateway.cli import app as gateway_cli
from statmuse_gateway.security.keys import require_scope
from statmuse_gateway.settings import GatewaySettings
from statmuse_shared.platform.db import Database, create_pool
from statmuse_shared.platform.migrations import migrate

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(database_url):
    await migrate(database_url, schemas=["gateway"])
    opened = await create_pool(database_url, max_size=4)
    yield opened
    await opened.close()


@pytest.fixture
async def redis(infra) -> AsyncIterator[Redis]:
    client = Redis.from_url(infra.redis_url, socket_timeout=0.25, socket_connect_timeout=0.25)
    yield client
    await client.aclose()


def build(
    tmp_path, database_url: str, redis_url: str, pool: Any, redis: Redis, **overrides: Any
) -> FastAPI:
    settings = GatewaySettings(
        database_url=database_url,
        redis_url=redis_url,
        artifact_store_url=f"file://{tmp_path}",
        **overrides,
    )
    # What the lifespan would leave: the pool open (None: never opened), Redis.
    rt = build_runtime(settings, db=None if pool is None else Database.of(pool), redis=redis)
    app = create_app(settings, runtime=rt)
    # A frozen clock in a window of its own: no minute boundary mid-test, no shared counters.
    frozen = random.randrange(10**6, 10**9) * 60 + 1.5
    rt.limiter.clock = lambda: frozen

    # The real admin routes are being written concurrently; these use the same dependency.
    async def whoami(
        key: Annotated[ApiKey, Depends(require_scope("write"))],
    ) -> dict[str, str]:
        return {"key_id": key.key_id}

    async def echo(body: dict[str, Any]) -> dict[str, int]:
        return {"fields": len(body)}

    async def ping() -> dict[str, str]:
        return {"pong": "ok"}

    app.add_api_route("/api/test/write", whoami, methods=["POST"])
    app.add_api_route("/api/test/echo", echo, methods=["POST"])
    app.add_api_route("/api/test/ping", ping, methods=["GET"])
    return app


def client(app: FastAPI, host: str | None = None) -> httpx.AsyncClient:
    peer = (host or f"10.{uuid.uuid4().int % 250}.0.{uuid.uuid4().int % 250}", 40000)
    transport = httpx.ASGITransport(app=app, client=peer)
    return httpx.AsyncClient(transport=transport, base_url="http://gateway")


async def test_write_dependency_answers_401_403_and_200(tmp_path, database_url, infra, pool, redis):
    app = build(tmp_path, database_url, infra.redis_url, pool, redis)
    _, read_token = await apikeys.create_key(conn=pool, name="reader", scopes=["read"])
    writer, write_token = await apikeys.create_key(conn=pool, name="writer", scopes=["write"])
    admin, admin_token = await apikeys.create_key(conn=pool, name="ops", scopes=["admin"])
    stored = await pool.fetchval(
        "SELECT secret_sha256 FROM gateway.api_keys WHERE key_id = $1", writer.key_id
    )
    assert write_token.rpartition("_")[2] not in stored  # only the hash is kept

    async with client(app) as http:
        missing = await http.post("/api/test/write")
        assert missing.status_code == 401
        assert "X-API-Key" in missing.json()["detail"]
        assert missing.headers["www-authenticate"] == 'ApiKey header="X-API-Key"'

        for bad in (
            "garbage",
            write_token + "x",
            write_token.replace("smp_", "smq_"),
            f"smp_{'0' * 16}_{'a' * 43}",
        ):
            refused = await http.post("/api/test/write", headers={"X-API-Key": bad})
            assert refused.status_code == 401, bad
            assert refused.json() == {"detail": "invalid API key"}
            assert refused.headers["www-authenticate"] == 'ApiKey header="X-API-Key"'

        weak = await http.post("/api/test/write", headers={"X-API-Key": read_token})
        assert weak.status_code == 403
        assert "'write'" in weak.json()["detail"]

        ok = await http.post("/api/test/write", headers={"X-API-Key": write_token})
        assert ok.status_code == 200
        assert ok.json() == {"key_id": writer.key_id}
        higher = await http.post("/api/test/write", headers={"x-api-key": admin_token})
        assert higher.json() == {"key_id": admin.key_id}

        revoked = await apikeys.revoke_key(conn=pool, key_id=writer.key_id)
        assert revoked is not None
        assert revoked.revoked_at is not None
        again = await apikeys.revoke_key(conn=pool, key_id=writer.key_id)
        assert again is not None
        assert again.revoked_at == revoked.revoked_at  # the first revocation time stays
        gone = await http.post("/api/test/write", headers={"X-API-Key": write_token})
        assert gone.status_code == 401
        assert "revoked" in gone.json()["detail"]

    assert await apikeys.revoke_key(conn=pool, key_id="f" * 16) is None
    listed = await apikeys.list_keys(conn=pool)
    assert [(k.name, k.scopes, k.revoked) for k in listed] == [
        ("reader", ("read",), False),
        ("writer", ("write",), True),
        ("ops", ("admin",), False),
    ]


async def test_reads_need_a_key_only_when_configured(tmp_path, database_url, infra, pool, redis):
    _, read_token = await apikeys.create_key(conn=pool, name="reader", scopes=["read"])
    open_app = build(tmp_path, database_url, infra.redis_url, pool, redis)
    async with client(open_app) as http:
        assert (await http.get("/api/test/ping")).status_code == 200

    app = build(tmp_path, database_url, infra.redis_url, pool, redis, require_key_for_reads=True)
    async with client(app) as http:
        missing = await http.get("/api/test/ping")
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == 'ApiKey header="X-API-Key"'
        predict = await http.post(
            "/api/predict", json={"player": "x", "stat": "points", "line": 20.5}
        )
        assert predict.status_code == 401
        bad = await http.get("/api/test/ping", headers={"X-API-Key": read_token[:-1]})
        assert bad.status_code == 401
        ok = await http.get("/api/test/ping", headers={"X-API-Key": read_token})
        assert ok.status_code == 200
        assert ok.json() == {"pong": "ok"}
        for free in ("/health", "/metrics", "/openapi.json", "/docs"):
            assert (await http.get(free)).status_code == 200, free


async def test_the_limit_holds_across_two_gateways_sharing_redis(
    tmp_path, database_url, infra, pool, redis
):
    a = build(tmp_path, database_url, infra.redis_url, pool, redis, rate_limit_per_minute=5)
    b = build(tmp_path, database_url, infra.redis_url, pool, redis, rate_limit_per_minute=5)
    # The same minute, as in real life.
    b.state.runtime.limiter.clock = a.state.runtime.limiter.clock
    before = metrics.RATE_LIMITED.labels("ip")._value.get()
    host = f"client-{uuid.uuid4().hex[:8]}"
    async with client(a, host) as to_a, client(b, host) as to_b:
        answers = []
        for http in (to_a, to_b, to_a, to_b, to_a):
            answers.append(await http.get("/api/test/ping"))
        assert [r.status_code for r in answers] == [200] * 5
        assert [r.headers["x-ratelimit-remaining"] for r in answers] == ["4", "3", "2", "1", "0"]
        sixth = await to_b.get("/api/test/ping")
        assert sixth.status_code == 429
        assert sixth.headers["retry-after"] == "59"  # the frozen clock is 1.5 s into its minute
        assert "rate limit exceeded" in sixth.json()["detail"]
        # Inside CORS: a browser can read the 429 (not an opaque network error).
        cors = await to_a.get("/api/test/ping", headers={"Origin": "http://localhost:3000"})
        assert cors.status_code == 429
        assert cors.headers["access-control-allow-origin"] == "http://localhost:3000"
        # Probes are never limited.
        assert (await to_a.get("/health")).status_code == 200
        assert (await to_b.get("/metrics")).status_code == 200
    assert metrics.RATE_LIMITED.labels("ip")._value.get() == before + 2
    # Another client has its own budget.
    async with client(a) as other:
        assert (await other.get("/api/test/ping")).status_code == 200
    # The next minute starts afresh.
    later = a.state.runtime.limiter.clock() + 60
    a.state.runtime.limiter.clock = lambda: later
    async with client(a, host) as to_a:
        assert (await to_a.get("/api/test/ping")).status_code == 200


async def test_a_valid_key_is_limited_by_key_not_by_address(
    tmp_path, database_url, infra, pool, redis
):
    _, token = await apikeys.create_key(conn=pool, name="bot", scopes=["read"])
    app = build(tmp_path, database_url, infra.redis_url, pool, redis, rate_limit_per_minute=3)
    before = metrics.RATE_LIMITED.labels("key")._value.get()
    async with client(app) as one, client(app) as two:
        codes = [
            (await http.get("/api/test/ping", headers={"X-API-Key": token})).status_code
            for http in (one, two, one)
        ]
        assert codes == [200, 200, 200]
        limited = await two.get("/api/test/ping", headers={"X-API-Key": token})
        assert limited.status_code == 429
        assert "per API key" in limited.json()["detail"]
        # The address still has its own budget; a wrong key counts against the address.
        assert (await one.get("/api/test/ping")).status_code == 200
        assert (await one.get("/api/test/ping", headers={"X-API-Key": "nope"})).status_code == 200
    assert metrics.RATE_LIMITED.labels("key")._value.get() == before + 1


async def test_redis_down_serves_every_request(tmp_path, database_url, infra, pool):
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_timeout=0.2, socket_connect_timeout=0.2)
    app = build(tmp_path, database_url, infra.redis_url, pool, dead, rate_limit_per_minute=2)
    _, token = await apikeys.create_key(conn=pool, name="writer", scopes=["write"])
    async with client(app) as http:
        answers = await asyncio.gather(*(http.get("/api/test/ping") for _ in range(6)))
        assert [r.status_code for r in answers] == [200] * 6
        assert "x-ratelimit-remaining" not in answers[0].headers
        ok = await http.post("/api/test/write", headers={"X-API-Key": token})
        assert ok.status_code == 200
    await dead.aclose()


async def test_oversized_bodies_get_413(tmp_path, database_url, infra, pool, redis):
    app = build(tmp_path, database_url, infra.redis_url, pool, redis, max_body_bytes=2048)
    big = b'{"x": "' + b"a" * 4096 + b'"}'

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 512):
            yield big[start : start + 512]

    async with client(app) as http:
        small = await http.post("/api/test/echo", json={"x": "a", "y": "b"})
        assert small.status_code == 200
        assert small.json() == {"fields": 2}
        declared = await http.post(
            "/api/predict", content=big, headers={"content-type": "application/json"}
        )
        assert declared.status_code == 413
        assert declared.json() == {"detail": "request body larger than 2048 bytes"}
        streamed = await http.post(
            "/api/test/echo", content=chunks(), headers={"content-type": "application/json"}
        )
        assert "content-length" not in streamed.request.headers
        assert streamed.status_code == 413
        assert "2048 bytes" in streamed.json()["detail"]


@pytest.fixture
async def migrated(database_url) -> str:
    await migrate(database_url, schemas=["gateway"])
    return database_url


def test_cli_creates_lists_and_revokes_keys(migrated, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", migrated)
    runner = CliRunner()
    created = runner.invoke(
        gateway_cli, ["apikey", "create", "--name", "ops", "--scope", "write", "--scope", "admin"]
    )
    assert created.exit_code == 0, created.output
    token = created.stdout.strip()
    key_id, secret = apikeys.parse(token)
    assert "cannot be shown again" in created.stderr

    listed = runner.invoke(gateway_cli, ["apikey", "list"])
    assert listed.exit_code == 0, listed.output
    assert key_id in listed.stdout
    assert "write,admin" in listed.stdout
    assert "active" in listed.stdout
    assert secret not in listed.output

    revoked = runner.invoke(gateway_cli, ["apikey", "revoke", key_id])
    assert revoked.exit_code == 0, revoked.output
    assert "revoked" in runner.invoke(gateway_cli, ["apikey", "list"]).stdout

    assert runner.invoke(gateway_cli, ["apikey", "revoke", "f" * 16]).exit_code == 2
    bad = runner.invoke(gateway_cli, ["apikey", "create", "--name", "x", "--scope", "root"])
    assert bad.exit_code == 2


def test_cli_says_to_migrate_when_the_table_is_missing(database_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    result = CliRunner().invoke(gateway_cli, ["apikey", "list"])
    assert result.exit_code == 1
    assert "migrate" in result.stderr


async def test_keys_that_cannot_be_checked_get_503_not_500(tmp_path, database_url, infra, redis):
    app = build(tmp_path, database_url, infra.redis_url, None, redis, require_key_for_reads=True)
    token = apikeys.generate().token
    async with client(app) as http:
        write = await http.post("/api/test/write", headers={"X-API-Key": token})
        assert write.status_code == 503
        assert write.headers["retry-after"] == "5"
        read = await http.get("/api/test/ping", headers={"X-API-Key": token})
        assert read.status_code == 503
        assert (await http.get("/api/test/ping")).status_code == 401
        assert (await http.get("/health")).status_code == 200


async def test_per_key_limits_live_in_postgresql_and_count_in_redis(
    tmp_path, database_url, infra, pool, redis
):
    quota, quota_token = await apikeys.create_key(
        conn=pool, name="small", scopes=["read"], rate_limit=2
    )
    assert quota.rate_limit == 2
    _, plain_token = await apikeys.create_key(conn=pool, name="plain", scopes=["read"])
    with pytest.raises(ValueError, match="at least 1"):
        await apikeys.create_key(conn=pool, name="zero", scopes=["read"], rate_limit=0)
    app = build(tmp_path, database_url, infra.redis_url, pool, redis, rate_limit_per_minute=50)
    async with client(app) as http:
        small = [
            (await http.get("/api/test/ping", headers={"X-API-Key": quota_token})).status_code
            for _ in range(3)
        ]
        assert small == [200, 200, 429]
        plain = await http.get("/api/test/ping", headers={"X-API-Key": plain_token})
        assert plain.headers["x-ratelimit-limit"] == "50"

        # The holder's own daily limit: stored in PostgreSQL, counted in Redis.
        headers = {"X-API-Key": plain_token}
        set_to = await http.put(
            "/api/keys/me/daily_limit", json={"daily_limit": 1}, headers=headers
        )
        assert set_to.status_code == 200, set_to.text
        again = await apikeys.authenticate(conn=pool, token=plain_token)
        assert again is not None
        assert again.daily.limit == 1
        body = {"player": "LeBron James", "stat": "points", "line": 25.5}
        first = await http.post("/api/predict", json=body, headers=headers)
        assert first.status_code != 429
        second = await http.post("/api/predict", json=body, headers=headers)
        assert second.status_code == 429
        assert "help_links" in second.json()
        me = (await http.get("/api/keys/me", headers=headers)).json()
        assert (me["daily_limit"], me["used_today"]) == (1, 1)


async def test_the_daily_count_is_atomic_in_postgresql(pool):
    """Concurrent requests cannot both take the last prediction, and concurrent changes of the
    limit cannot undo a lowering."""
    key, _ = await apikeys.create_key(conn=pool, name="busy", scopes=["read"])
    day = dt.date(2026, 3, 10)
    results = await asyncio.gather(
        *(apikeys.spend(conn=pool, key_id=key.key_id, day=day, n=1, limit=5) for _ in range(20))
    )
    assert sum(counted for counted, _ in results) == 5
    assert await apikeys.used_on(conn=pool, key_id=key.key_id, day=day) == 5
    assert await apikeys.spend(conn=pool, key_id=key.key_id, day=day, n=9, limit=5) == (False, 5)
    assert await apikeys.used_on(conn=pool, key_id=key.key_id, day=day + dt.timedelta(1)) == 0

    now = dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)
    await apikeys.change_daily_limit(conn=pool, key_id=key.key_id, wanted=10, now=now)
    for _ in range(5):
        await asyncio.gather(
            apikeys.change_daily_limit(conn=pool, key_id=key.key_id, wanted=5, now=now),
            apikeys.change_daily_limit(conn=pool, key_id=key.key_id, wanted=20, now=now),
        )
        [stored] = [k for k in await apikeys.list_keys(conn=pool) if k.key_id == key.key_id]
        assert stored.daily.at(now) == 5  # the lowering holds, whichever came first
    assert await apikeys.change_daily_limit(conn=pool, key_id="f" * 16, wanted=1, now=now) is None


def test_cli_sets_a_keys_rate_limit(migrated, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", migrated)
    runner = CliRunner()
    refused = runner.invoke(gateway_cli, ["apikey", "create", "--name", "x", "--rate-limit", "0"])
    assert refused.exit_code == 2
    created = runner.invoke(gateway_cli, ["apikey", "create", "--name", "x", "--rate-limit", "7"])
    assert created.exit_code == 0, created.output
    assert "7 requests a minute" in created.stderr
    listed = runner.invoke(gateway_cli, ["apikey", "list"])
    assert "7/min" in listed.stdout


def test_an_operator_sets_or_removes_a_daily_limit_at_once(migrated, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", migrated)
    runner = CliRunner()
    created = runner.invoke(gateway_cli, ["apikey", "create", "--name", "shared"])
    key_id, _ = apikeys.parse(created.stdout.strip())
    limited = runner.invoke(gateway_cli, ["apikey", "daily-limit", key_id, "--limit", "3"])
    assert limited.exit_code == 0, limited.output
    assert "3 predictions a day" in limited.stdout
    cleared = runner.invoke(gateway_cli, ["apikey", "daily-limit", key_id])
    assert "no daily limit" in cleared.stdout

    async def limit_now() -> int | None:
        pool = await create_pool(migrated, max_size=1)
        try:
            [key] = [k for k in await apikeys.list_keys(conn=pool) if k.key_id == key_id]
            return key.daily.at(dt.datetime.now(dt.UTC))
        finally:
            await pool.close()

    assert asyncio.run(limit_now()) is None
    missing = runner.invoke(gateway_cli, ["apikey", "daily-limit", "f" * 16, "--limit", "1"])
    assert missing.exit_code == 2
    negative = runner.invoke(gateway_cli, ["apikey", "daily-limit", key_id, "--limit", "-1"])
    assert negative.exit_code == 2
