"""/api/predict and /api/batch_predict against real PostgreSQL and Redis, fed through the
gateway's own subscribers: predictions are cached by their inputs and model version, a new
model or a new feature vector drops them, and with Redis down every answer stays the same."""

import datetime as dt
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from faststream.kafka import TestKafkaBroker
from redis.asyncio import Redis

from statmuse_gateway import metrics
from statmuse_gateway.adapters.cache import RedisContextCache, RedisPredictionCache
from statmuse_gateway.adapters.postgres import PostgresReadModel
from statmuse_gateway.app import build_runtime
from statmuse_gateway.routes import admin, models, players, predictions
from statmuse_gateway.settings import GatewaySettings
from statmuse_shared.contract import ids, topics, vectors
from statmuse_shared.contract.messages import FeaturesComputed, ModelMetrics, ModelPublished
from statmuse_shared.contract.stats import Stat
from statmuse_shared.features import FEATURE_SET_VERSION, feature_names
from statmuse_shared.models.artifacts import LocalArtifactStore
from statmuse_shared.models.baseline import RollingMeanArtifact
from statmuse_shared.models.serving import ModelBook
from statmuse_shared.platform.db import Database, create_pool
from statmuse_shared.platform.migrations import migrate

pytestmark = pytest.mark.integration
LEBRON = {"player": "LeBron James", "stat": "points", "line": 25.5}


def vector(as_of: dt.date, sma_10: float) -> FeaturesComputed:
    return FeaturesComputed(
        event_id=ids.event_id("t", 2544, as_of),
        player_id=2544,
        player_name="LeBron James",
        team="LAL",
        season="2023-24",
        as_of=as_of,
        feature_set_version=FEATURE_SET_VERSION,
        features={
            **dict.fromkeys(feature_names()),  # a whole vector, as the topic carries
            "points_sma_10": sma_10,
            "points_season_avg": 24.0,
            "points_n_10": 10,
        },
    )


def model(store: LocalArtifactStore, version: str, sd: float) -> ModelPublished:
    artifact = RollingMeanArtifact(
        stat=Stat.POINTS,
        feature="points_sma_10",
        fallback_feature="points_season_avg",
        window_count_feature="points_n_10",
        min_games=3,
        family="normal",
        residual_sd=sd,
        league_mean=11.0,
        feature_set_version="fs-2",
    )
    uri, checksum = store.put(f"points/{version}.json", artifact.model_dump_json().encode())
    return ModelPublished(
        event_id=ids.event_id("t", version),
        name="points-baseline",
        version=version,
        stat=Stat.POINTS,
        alias="production",
        model_type="rolling_mean",
        artifact_uri=uri,
        checksum=checksum,
        feature_set_version="fs-2",
        metrics=ModelMetrics(mae=5.0),
    )


def count(outcome: str) -> float:
    value: float = metrics.CACHE.labels("prediction", outcome)._value.get()
    return value


@pytest.fixture
async def gateway(database_url, infra, tmp_path, unique):
    await migrate(database_url, schemas=["gateway"])
    pool = await create_pool(database_url)
    redis = Redis.from_url(infra.redis_url, socket_timeout=0.25, socket_connect_timeout=0.25)
    await redis.flushdb()
    store = LocalArtifactStore(tmp_path)
    settings = GatewaySettings(
        database_url="postgresql://x", group_id=f"gw-{unique}", prediction_cache_seconds=600
    )
    rt = build_runtime(settings, db=Database.of(pool), redis=redis, book=ModelBook(store=store))
    rt.bind()
    app = FastAPI()
    for routes in (predictions, models, players, admin):
        app.include_router(routes.router)
    app.state.runtime = rt
    async with (
        TestKafkaBroker(rt.broker) as br,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        yield rt, br, redis, client, store
    await redis.aclose()
    await pool.close()


async def test_predictions_are_cached_until_the_model_or_the_features_change(gateway):
    rt, br, redis, client, store = gateway
    await br.publish(
        vectors.encode(vector(dt.date(2024, 1, 10), 25.0)),
        topics.FEATURES,
        key=topics.player_key(2544),
    )
    await br.publish(
        model(store, "v1", 7.0).model_dump_json().encode(), topics.MODELS_PUBLISHED, key=b"points"
    )

    misses, hits = count("miss"), count("hit")
    first = await client.post("/api/predict", json=LEBRON)
    assert first.status_code == 200, first.text
    assert first.json()["model_version"] == "v1"
    assert count("miss") == misses + 1
    keys = await redis.keys("pred:*")
    assert len(keys) == 1
    again = await client.post("/api/predict", json=LEBRON)
    assert again.json() == first.json()
    assert count("hit") == hits + 1
    # Same prop, other spelling and the default odds spelled out: the same entry.
    spelled = {**LEBRON, "player": "  lebron JAMES ", "odds_over": -110, "odds_under": -110}
    assert (await client.post("/api/predict", json=spelled)).json() == first.json()
    assert count("hit") == hits + 2
    # Any other input is another entry.
    other = await client.post("/api/predict", json={**LEBRON, "line": 26.5})
    assert other.json()["line"] == 26.5
    assert len(await redis.keys("pred:*")) == 2

    # The answer really comes from Redis (a planted value is served).
    await redis.set(keys[0], first.text.replace('"model_version":"v1"', '"model_version":"vX"'))
    assert (await client.post("/api/predict", json=LEBRON)).json()["model_version"] == "vX"

    # A new production model: never the old answer.
    await br.publish(
        model(store, "v2", 9.0).model_dump_json().encode(), topics.MODELS_PUBLISHED, key=b"points"
    )
    after_model = await client.post("/api/predict", json=LEBRON)
    assert after_model.json()["model_version"] == "v2"
    assert after_model.json()["over_probability"] != first.json()["over_probability"]

    # A new feature vector for the player: his predictions are recomputed.
    await br.publish(
        vectors.encode(vector(dt.date(2024, 1, 12), 31.0)),
        topics.FEATURES,
        key=topics.player_key(2544),
    )
    after_game = await client.post("/api/predict", json=LEBRON)
    assert after_game.json()["as_of"] == "2024-01-12"
    assert after_game.json()["predicted_value"] > after_model.json()["predicted_value"]
    assert after_game.json()["model_version"] == "v2"


async def test_a_new_model_is_never_served_a_stale_answer_even_without_the_drop(gateway):
    """If the drop is missed (Redis was down when the model came), the key's model version
    still keeps the old answer out."""
    rt, br, redis, client, store = gateway
    await br.publish(
        vectors.encode(vector(dt.date(2024, 1, 10), 25.0)),
        topics.FEATURES,
        key=topics.player_key(2544),
    )
    await br.publish(
        model(store, "v1", 7.0).model_dump_json().encode(), topics.MODELS_PUBLISHED, key=b"points"
    )
    assert (await client.post("/api/predict", json=LEBRON)).json()["model_version"] == "v1"
    generation = await redis.get("pred-gen")
    # The book swaps without the cache hearing of it.
    rt.book.apply(model(store, "v2", 9.0))
    assert await redis.get("pred-gen") == generation
    assert (await client.post("/api/predict", json=LEBRON)).json()["model_version"] == "v2"


async def test_batch_predict_gives_partial_results(gateway):
    _, br, _, client, store = gateway
    await br.publish(
        vectors.encode(vector(dt.date(2024, 1, 10), 25.0)),
        topics.FEATURES,
        key=topics.player_key(2544),
    )
    await br.publish(
        model(store, "v1", 7.0).model_dump_json().encode(), topics.MODELS_PUBLISHED, key=b"points"
    )
    items = [
        LEBRON,
        {**LEBRON, "player": "Lebron Jmes"},
        {**LEBRON, "stat": "rebounds"},
        {**LEBRON, "line": 30.5},
    ]
    r = await client.post("/api/batch_predict", json={"items": items})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [x["status"] for x in body["results"]] == ["ok", "not_found", "error", "ok"]
    assert (body["ok"], body["failed"]) == (2, 2)
    assert body["results"][1]["suggestions"] == ["LeBron James"]
    assert body["results"][2]["error"] == "no production model for rebounds yet"
    single = await client.post("/api/predict", json={**LEBRON, "line": 30.5})
    assert body["results"][3]["prediction"] == single.json()
    # The single endpoint's errors are unchanged.
    missing = await client.post("/api/predict", json={**LEBRON, "player": "Lebron Jmes"})
    assert missing.status_code == 404
    assert missing.json() == {
        "detail": "unknown player 'Lebron Jmes'",
        "suggestions": ["LeBron James"],
    }
    no_model = await client.post("/api/predict", json={**LEBRON, "stat": "rebounds"})
    assert no_model.status_code == 503
    assert no_model.headers["retry-after"] == "30"
    not_scheduled = await client.post("/api/predict", json={**LEBRON, "game_date": "2023-01-01"})
    assert not_scheduled.status_code == 404
    assert not_scheduled.json() == {
        "detail": "no scheduled game for LeBron James (LAL) on 2023-01-01",
        "suggestions": [],
    }


async def test_redis_down_gives_the_same_answer(gateway):
    rt, br, _, client, store = gateway
    await br.publish(
        vectors.encode(vector(dt.date(2024, 1, 10), 25.0)),
        topics.FEATURES,
        key=topics.player_key(2544),
    )
    await br.publish(
        model(store, "v1", 7.0).model_dump_json().encode(), topics.MODELS_PUBLISHED, key=b"points"
    )
    with_cache = (await client.post("/api/predict", json=LEBRON)).json()
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_timeout=0.2, socket_connect_timeout=0.2)
    rt.context_cache = RedisContextCache(dead)
    rt.prediction_cache = RedisPredictionCache(dead, ttl_s=600)
    errors = count("error")
    without = await client.post("/api/predict", json=LEBRON)
    assert without.status_code == 200
    assert without.json() == with_cache
    assert count("error") == errors + 1
    batch = await client.post("/api/batch_predict", json={"items": [LEBRON, LEBRON]})
    assert [x["prediction"] for x in batch.json()["results"]] == [with_cache, with_cache]
    # Subscribers stay up too: a new model is applied although the drop cannot be made.
    await br.publish(
        model(store, "v2", 9.0).model_dump_json().encode(), topics.MODELS_PUBLISHED, key=b"points"
    )
    assert (await client.post("/api/predict", json=LEBRON)).json()["model_version"] == "v2"
    await dead.aclose()


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


async def commands(redis: Redis) -> dict[str, int]:
    stats = await redis.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}


async def test_a_batch_goes_through_as_a_batch(gateway):
    """A batch's props share each step: one query for the names, one for the vectors, one
    cache round trip, one pipeline of writes; the answers are what single requests get."""
    rt, br, redis, client, store = gateway
    players = {2544: "LeBron James", 201939: "Stephen Curry", 203999: "Nikola Jokic"}
    for player_id, name in players.items():
        event = vector(dt.date(2024, 1, 10), 20.0 + player_id % 7).model_copy(
            update={
                "player_id": player_id,
                "player_name": name,
                "event_id": ids.event_id("t", player_id),
            }
        )
        await br.publish(vectors.encode(event), topics.FEATURES, key=topics.player_key(player_id))
    await br.publish(
        model(store, "v1", 7.0).model_dump_json().encode(), topics.MODELS_PUBLISHED, key=b"points"
    )
    counting = CountingPool(rt.db.pool)
    rt.read_model = PostgresReadModel(Database.of(counting))  # type: ignore[arg-type]
    items = [
        {**LEBRON, "player": name, "line": 20.5 + k} for k, name in enumerate(players.values())
    ] * 4
    items += [
        {**LEBRON, "player": "Nobody Atall"},
        {**LEBRON, "stat": "rebounds"},
        {**LEBRON, "game_date": "2023-01-01"},
    ]
    # The lookup script known to Redis, as after any earlier lookup: the counts below are the
    # batch's own (a first run would add the EVALSHA that finds no script, then the EVAL).
    await redis.script_load(RedisPredictionCache._lookup.text)
    await redis.config_resetstat()
    misses = count("miss")

    r = await client.post("/api/batch_predict", json={"items": items})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["status"] for x in results] == ["ok"] * 12 + ["not_found", "error", "not_found"]
    assert results[12]["error"] == "unknown player 'Nobody Atall'"
    assert results[14]["error"] == "no scheduled game for LeBron James (LAL) on 2023-01-01"
    # Names (known and unknown), suggestions for the unknown one, the dated prop's game on the
    # schedule, vectors: four queries.
    assert counting.taken == 4
    used = await commands(redis)
    # Every lookup in one script (its GETs run inside Redis: no MGET or GET sent from here).
    assert used.get("evalsha", 0) + used.get("eval", 0) == 1
    assert used.get("mget", 0) == 0
    assert used.get("set") == 12  # each answer stored (one pipeline)
    assert count("miss") == misses + 12  # the 12 props (the dated one has no game)
    assert [x["prediction"]["player"] for x in results[:3]] == list(players.values())

    # Again: every answer from the cache; what failed is not cached, so the unknown name, its
    # suggestions, the dated prop's game and the model-less prop's vector are queried again,
    # still one query each.
    counting.taken = 0
    hits = count("hit")
    again = await client.post("/api/batch_predict", json={"items": items})
    assert again.json()["results"] == results
    assert count("hit") == hits + 12
    assert counting.taken == 4
    # One at a time, the same answers (from the cache the batch filled, and computed anew).
    for item, result in zip(items[:3], results[:3], strict=True):
        assert (await client.post("/api/predict", json=item)).json() == result["prediction"]
    await redis.incr("pred-gen")
    for item, result in zip(items[:3], results[:3], strict=True):
        assert (await client.post("/api/predict", json=item)).json() == result["prediction"]
