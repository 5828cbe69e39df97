"""A/B routing through the predictor's handlers, with real PostgreSQL and real artifacts in a
LocalArtifactStore: with PREDICTOR_AB_SHARE=0.5 half the (player, date) pairs are predicted by
the staged model, the per-version counter agrees with what was published, a model change
re-predicts every player on the same arm as before, and promoting the challenger ends the test.
"""

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from faststream.kafka import TestKafkaBroker
from prometheus_client import REGISTRY

from statmuse_predictor.adapters.postgres import PostgresPredictions
from statmuse_predictor.app import build_runtime
from statmuse_predictor.settings import PredictorSettings
from statmuse_shared.contract import topics, vectors
from statmuse_shared.contract.messages import (
    FeaturesComputed,
    GameRef,
    ModelPublished,
    PredictionMade,
)
from statmuse_shared.contract.stats import Stat
from statmuse_shared.features import FEATURE_SET_VERSION, feature_names
from statmuse_shared.models.artifacts import LocalArtifactStore
from statmuse_shared.models.baseline import RollingMeanArtifact
from statmuse_shared.models.serving import ModelBook, ab_bucket
from statmuse_shared.platform.db import Database, create_pool
from statmuse_shared.platform.migrations import migrate

pytestmark = pytest.mark.integration
AS_OF = dt.date(2024, 3, 12)
PLAYERS = range(1, 121)
GAME_DAY = AS_OF + dt.timedelta(days=3)  # player 1's vector knows his next game


def as_of(pid: int) -> dt.date:
    return AS_OF + dt.timedelta(days=pid % 3)


def routing_day(pid: int) -> dt.date:
    return GAME_DAY if pid == 1 else as_of(pid)


def vector(pid: int) -> FeaturesComputed:
    game = None
    if pid == 1:
        game = GameRef(
            game_date=GAME_DAY, season_type="Regular Season", opponent="DEN", is_home=True
        )
    return FeaturesComputed(
        event_id=f"fv-{pid}",
        player_id=pid,
        player_name=f"Player {pid}",
        team="LAL",
        season="2023-24",
        as_of=as_of(pid),
        game=game,
        feature_set_version=FEATURE_SET_VERSION,
        features={
            **dict.fromkeys(feature_names()),  # a whole vector, as the topic carries
            "points_sma_10": 20.0 + pid % 7,
            "points_n_10": 10.0,
            "points_season_avg": 21.0,
        },
    )


def model(store: LocalArtifactStore, version: str, alias: str, sd: float) -> ModelPublished:
    artifact = RollingMeanArtifact(
        stat=Stat.POINTS,
        feature="points_sma_10",
        fallback_feature="points_season_avg",
        window_count_feature="points_n_10",
        min_games=5,
        family="normal",
        residual_sd=sd,
        league_mean=11.0,
        feature_set_version="fs-0.1",
    )
    uri, checksum = store.put(f"points/{version}.json", artifact.model_dump_json().encode())
    return ModelPublished(
        event_id=f"m-{version}-{alias}",
        name="points-baseline",
        version=version,
        stat=Stat.POINTS,
        alias=alias,
        model_type="rolling_mean",
        artifact_uri=uri,
        checksum=checksum,
        feature_set_version="fs-0.1",
    )


def by_version(version: str, arm: str) -> float:
    labels = {"stat": "points", "version": version, "arm": arm}
    return REGISTRY.get_sample_value("statmuse_predictor_predictions_by_version_total", labels) or 0


@pytest.fixture
async def pool(database_url: str) -> Any:
    await migrate(database_url, schemas=["predictions"])
    p = await create_pool(database_url)
    yield p
    await p.close()


async def test_ab_routing_through_the_handlers(pool: Any, tmp_path: Path, unique: str) -> None:
    store = LocalArtifactStore(tmp_path / "artifacts")
    # Versions unique to this test: the counter is process-global.
    v1, v2, v3 = (f"{v}-{unique}" for v in ("v1", "v2", "v3"))
    settings = PredictorSettings(
        database_url="postgresql://unused", group_id=f"predictor-{unique}", ab_share=0.5
    )
    book = ModelBook(store=store, ab_share=settings.ab_share)  # as create_app builds it
    rt = build_runtime(settings, book=book, predictions=PostgresPredictions(Database.of(pool)))
    broker = rt.broker
    rt.bind()
    seen: list[PredictionMade] = []

    @broker.subscriber(topics.PREDICTIONS, group_id=f"probe-{unique}", auto_offset_reset="earliest")
    async def probe(body: PredictionMade) -> None:
        seen.append(body)

    async def publish_model(event: ModelPublished) -> list[PredictionMade]:
        before = len(seen)
        await br.publish(event.model_dump_json().encode(), topics.MODELS_PUBLISHED, key=b"points")
        return seen[before:]

    challengers = {pid for pid in PLAYERS if ab_bucket(pid, routing_day(pid)) < 0.5}
    assert 0.35 < len(challengers) / len(PLAYERS) < 0.65
    assert (ab_bucket(1, GAME_DAY) < 0.5) != (ab_bucket(1, as_of(1)) < 0.5), "pick another day"

    async with TestKafkaBroker(broker) as br:
        assert await publish_model(model(store, v1, "production", 6.0)) == []  # no vectors yet
        assert await publish_model(model(store, v2, "staging", 5.0)) == []
        for pid in PLAYERS:
            await br.publish(
                vectors.encode(vector(pid)), topics.FEATURES, key=topics.player_key(pid)
            )
        first = list(seen)

        # Every player predicted once, by the arm his (player, date) pair hashes to.
        assert len(first) == len(PLAYERS)
        versions = {p.player_id: p.model_version for p in first}
        assert versions == {pid: v2 if pid in challengers else v1 for pid in PLAYERS}
        sds = {p.model_version: p.distribution.sd for p in first}
        assert sds == {v1: 6.0, v2: 5.0}
        # Paired: each prediction carries the other arm on the same lines, for the A/B test.
        for p in first:
            assert p.other_arm is not None
            assert p.arm == ("challenger" if p.player_id in challengers else "production")
            assert p.other_arm.model_version == (v1 if p.arm == "challenger" else v2)
            assert [q.line for q in p.other_arm.lines] == [q.line for q in p.lines]

        # The per-version counter counts exactly what was published.
        published = Counter(p.model_version for p in first)
        assert by_version(v1, "production") == published[v1] == len(PLAYERS) - len(challengers)
        assert by_version(v2, "challenger") == published[v2] == len(challengers)
        assert by_version(v1, "challenger") == by_version(v2, "production") == 0
        rows = await pool.fetch(
            "SELECT model_version, count(*) AS n FROM predictions.predictions GROUP BY 1"
        )
        assert {r["model_version"]: r["n"] for r in rows} == dict(published)

        # A new challenger re-predicts everyone from the stored vectors: the same players land
        # on the challenger arm (player 1 routed by his stored game date, not by as_of).
        again = await publish_model(model(store, v3, "staging", 4.0))
        assert {p.player_id: p.model_version for p in again} == {
            pid: v3 if pid in challengers else v1 for pid in PLAYERS
        }
        assert by_version(v3, "challenger") == len(challengers)

        # Promotion (what the trainer publishes): v3 to production, v1 archived. Staging is
        # empty again, so everyone is on v3, counted as production.
        promoted = await publish_model(model(store, v3, "production", 4.0))
        assert await publish_model(model(store, v1, "archived", 6.0)) == []
        assert book.staging == {}
        assert {p.model_version for p in promoted} == {v3}
        assert {(p.arm, p.other_arm) for p in promoted} == {(None, None)}  # no test any more
        assert len(promoted) == len(PLAYERS)
        assert by_version(v3, "production") == len(PLAYERS)
