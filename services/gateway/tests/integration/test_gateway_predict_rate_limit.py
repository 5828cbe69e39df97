"""The rate limit on POST /api/predict, through the real app and its middleware stack: every
request is counted once (by the rate-limit middleware, before the route runs), whatever it
comes to (200, 404, 422), a refused one gets the middleware's 429 before any database query,
and with Redis down every request is served."""

import datetime as dt
import random
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from statmuse_gateway import metrics
from statmuse_gateway.adapters import postgres as db
from statmuse_gateway.app import build_runtime, create_app
from statmuse_gateway.settings import GatewaySettings
from statmuse_shared.contract import ids
from statmuse_shared.contract.messages import FeaturesComputed, ModelMetrics, ModelPublished
from statmuse_shared.contract.stats import Stat
from statmuse_shared.models.artifacts import LocalArtifactStore
from statmuse_shared.models.baseline import RollingMeanArtifact
from statmuse_shared.platform.db import Database, create_pool
from statmuse_shared.platform.migrations import migrate

pytestmark = pytest.mark.integration


class CountingPool:
    """The pool, counting the connections taken (one per query here)."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.taken = 0

    def acquire(self) -> Any:
        self.taken += 1
        return self.pool.acquire()

    def get_max_size(self) -> int:
        return int(self.pool.get_max_size())


@pytest.fixture
async def pool(database_url):
    await migrate(database_url, schemas=["gateway"])
    opened = await create_pool(database_url, max_size=4)
    yield opened
    await opened.close()


@pytest.fixture
async def redis(infra):
    client = Redis.from_url(infra.redis_url, socket_timeout=0.25, socket_connect_timeout=0.25)
    yield client
    await client.aclose()


async def build(
    tmp_path,
    database_url: str,
    pool: Any,
    redis: Redis,
    limit: int,
) -> tuple[FastAPI, dict[str, Any]]:
    """The app as its lifespan would leave it, serving a points model and one player of its
    own (a name no other test uses); returns the app and the prop to ask for."""
    settings = GatewaySettings(
        database_url=database_url,
        artifact_store_url=f"file://{tmp_path}",
        rate_limit_per_minute=limit,
    )
    # What the lifespan would leave: the pool open (counting what is taken), Redis.
    rt = build_runtime(settings, db=Database.of(CountingPool(pool)), redis=redis)  # type: ignore[arg-type]
    app = create_app(settings, runtime=rt)
    frozen = random.randrange(10**6, 10**9) * 60 + 1.5  # a window of its own, 1.5 s in
    rt.limiter.clock = lambda: frozen

    player_id, name = random.randrange(10**7, 10**8), f"Test Player {uuid.uuid4().hex[:10]}"
    as_of = dt.date(2024, 1, 10)
    vector = FeaturesComputed(
        event_id=ids.event_id("t", player_id, as_of),
        player_id=player_id,
        player_name=name,
        team="LAL",
        season="2023-24",
        as_of=as_of,
        feature_set_version="fs-2",
        features={"points_sma_10": 25.0, "points_season_avg": 24.0, "points_n_10": 10},
    )
    async with pool.acquire() as conn:
        await db.upsert_vectors(conn=conn, vectors=[vector])
    artifact = RollingMeanArtifact(
        stat=Stat.POINTS,
        feature="points_sma_10",
        fallback_feature="points_season_avg",
        window_count_feature="points_n_10",
        min_games=3,
        family="normal",
        residual_sd=7.0,
        league_mean=11.0,
        feature_set_version="fs-2",
    )
    store = LocalArtifactStore(tmp_path)
    uri, checksum = store.put("points/v1.json", artifact.model_dump_json().encode())
    rt.book.apply(
        ModelPublished(
            event_id=ids.event_id("t", "v1"),
            name="points-baseline",
            version=f"v-{player_id}",
            stat=Stat.POINTS,
            alias="production",
            model_type="rolling_mean",
            artifact_uri=uri,
            checksum=checksum,
            feature_set_version="fs-2",
            metrics=ModelMetrics(mae=5.0),
        )
    )
    return app, {"player": name, "stat": "points", "line": 25.5}


def client(app: FastAPI) -> httpx.AsyncClient:
    peer = (f"10.{uuid.uuid4().int % 250}.1.{uuid.uuid4().int % 250}", 40000)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=peer), base_url="http://gateway"
    )


async def evalsha_calls(redis: Redis) -> int:
    stats = await redis.info("commandstats")
    return sum(int(stats.get(f"cmdstat_{c}", {}).get("calls", 0)) for c in ("evalsha", "eval"))


async def test_every_predict_is_counted_once_and_refused_before_any_query(
    tmp_path, database_url, pool, redis
):
    app, prop = await build(tmp_path, database_url, pool, redis, limit=6)
    counting = app.state.runtime.db.pool
    before = metrics.RATE_LIMITED.labels("ip")._value.get()
    async with client(app) as http:
        first = await http.post("/api/predict", json=prop)  # the name from PostgreSQL
        assert first.status_code == 200, first.text
        assert first.headers["x-ratelimit-remaining"] == "5"
        await redis.config_resetstat()
        hit = await http.post("/api/predict", json=prop)  # all in memory or Redis
        assert hit.json() == first.json()
        assert hit.headers["x-ratelimit-remaining"] == "4"
        # Counted once (one script, in the middleware), then the cache lookup (another).
        assert await evalsha_calls(redis) == 2
        bad = await http.post("/api/predict", json={**prop, "line": 25.3})
        assert bad.status_code == 422
        assert bad.headers["x-ratelimit-remaining"] == "3"
        unknown = await http.post("/api/predict", json={**prop, "player": "Nobody Atall"})
        assert unknown.status_code == 404
        assert unknown.headers["x-ratelimit-remaining"] == "2"
        fresh = await http.post("/api/predict", json={**prop, "line": 30.5})  # a cache miss
        assert fresh.status_code == 200
        assert fresh.headers["x-ratelimit-remaining"] == "1"
        last = await http.post("/api/predict", json=prop)
        assert (last.status_code, last.headers["x-ratelimit-remaining"]) == (200, "0")

        taken = counting.taken
        refused = [
            await http.post("/api/predict", json=prop, headers={"Origin": "http://localhost:3000"}),
            await http.post("/api/predict", json={**prop, "line": 25.3}),
            await http.post("/api/predict", json={**prop, "player": "Nobody Atall"}),
            await http.post("/api/predict", json={**prop, "line": 31.5}),
        ]
        assert counting.taken == taken  # no query for a refused request
    for r in refused:
        assert r.status_code == 429, r.text
        assert r.json() == {
            "detail": "rate limit exceeded: 6 requests per minute per client address; retry in 59 s"
        }
        assert (r.headers["retry-after"], r.headers["x-ratelimit-remaining"]) == ("59", "0")
        assert r.headers["x-ratelimit-limit"] == "6"
    # Inside CORS: a browser can read the 429.
    assert refused[0].headers["access-control-allow-origin"] == "http://localhost:3000"
    assert metrics.RATE_LIMITED.labels("ip")._value.get() == before + 4


async def test_with_redis_down_every_predict_is_served(tmp_path, database_url, pool):
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_timeout=0.2, socket_connect_timeout=0.2)
    app, prop = await build(tmp_path, database_url, pool, dead, limit=1)
    try:
        async with client(app) as http:
            answers = [await http.post("/api/predict", json=prop) for _ in range(4)]
            missing = await http.post("/api/predict", json={**prop, "player": "Nobody Atall"})
    finally:
        await dead.aclose()
    assert [r.status_code for r in answers] == [200] * 4
    assert all("x-ratelimit-remaining" not in r.headers for r in answers)
    assert answers[3].json() == answers[0].json()
    assert missing.status_code == 404
