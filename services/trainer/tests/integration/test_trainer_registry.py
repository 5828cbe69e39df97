"""Promote, then roll back, against real PostgreSQL and the broker; a ModelBook fed the
published events serves the right version at every step."""

import asyncio
import time

import pytest
from aiokafka import AIOKafkaConsumer

from statmuse_shared.contract import ids, topics
from statmuse_shared.contract.messages import ModelMetrics, ModelPublished
from statmuse_shared.contract.stats import Stat
from statmuse_shared.models.artifacts import LocalArtifactStore
from statmuse_shared.models.baseline import RollingMeanArtifact
from statmuse_shared.models.serving import ModelBook
from statmuse_shared.platform.broker import ensure_topics
from statmuse_shared.platform.db import Database, create_pool
from statmuse_shared.platform.migrations import migrate
from statmuse_trainer.adapters.registry import PostgresRegistry
from statmuse_trainer.app import build_runtime
from statmuse_trainer.ports import RegistryRepository
from statmuse_trainer.registry.moves import RegistryError, promote, rollback
from statmuse_trainer.runtime import TrainerRuntime
from statmuse_trainer.settings import TrainerSettings

pytestmark = pytest.mark.integration


def version(store: LocalArtifactStore, name: str, alias: str, sd: float) -> ModelPublished:
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
    uri, checksum = store.put(f"points/{name}.json", artifact.model_dump_json().encode())
    return ModelPublished(
        event_id=ids.event_id("t", name),
        name="points-baseline",
        version=name,
        stat=Stat.POINTS,
        alias=alias,
        model_type="rolling_mean",
        artifact_uri=uri,
        checksum=checksum,
        feature_set_version="fs-2",
        metrics=ModelMetrics(mae=5.0),
    )


async def alias_version(registry: RegistryRepository, key: str, alias: str) -> str | None:
    async with registry.transaction() as tx:
        return await tx.alias_version(key, alias)


def runtime(database_url: str, kafka_bootstrap: str, store: LocalArtifactStore) -> TrainerRuntime:
    settings = TrainerSettings(database_url=database_url, kafka_bootstrap_servers=kafka_bootstrap)
    return build_runtime(settings, store=store)


async def events_on_topic(bootstrap: str, expected: int) -> list[ModelPublished]:
    consumer = AIOKafkaConsumer(
        topics.MODELS_PUBLISHED,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[ModelPublished] = []
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(found) < expected:
            batch = await consumer.getmany(timeout_ms=300)
            found += [
                ModelPublished.model_validate_json(r.value)
                for records in batch.values()
                for r in records
            ]
    finally:
        await consumer.stop()
    return found


async def test_promote_then_rollback_round_trip(database_url, kafka_bootstrap, tmp_path):
    await migrate(database_url, schemas=["registry"])
    await ensure_topics(kafka_bootstrap, topics.all_with_dead_letters())
    store = LocalArtifactStore(tmp_path)
    async with runtime(database_url, kafka_bootstrap, store).running(consume=False) as rt:
        async with rt.registry.transaction() as tx:
            await tx.register(version(store, "v1", "production", 7.0))
            await tx.register(version(store, "v2", "staging", 6.0))

        with pytest.raises(RegistryError, match="no earlier production"):
            await rollback(rt, "points")

        promoted = await promote(rt, "points")
        assert [(e.version, e.alias) for e in promoted] == [
            ("v2", "production"),
            ("v1", "archived"),
        ]
        assert await alias_version(rt.registry, "points", "production") == "v2"
        assert await alias_version(rt.registry, "points", "staging") is None
        with pytest.raises(RegistryError, match="nothing is staged"):
            await promote(rt, "points")

        rolled = await rollback(rt, "points")
        assert [(e.version, e.alias) for e in rolled] == [("v1", "production"), ("v2", "archived")]
        assert await alias_version(rt.registry, "points", "production") == "v1"

    # What the predictor and gateway see: the events, in order, on the topic.
    seen = await events_on_topic(kafka_bootstrap, 4)
    assert [(e.version, e.alias) for e in seen] == [
        ("v2", "production"),
        ("v1", "archived"),
        ("v1", "production"),
        ("v2", "archived"),
    ]
    book = ModelBook(store=store)
    served = []
    for event in seen:
        await asyncio.to_thread(book.apply, event)
        current = book.for_stat(Stat.POINTS)
        served.append(current.info.version if current else None)
    assert served == ["v2", "v2", "v1", "v1"]


async def test_a_fitted_model_is_registered_published_and_served(
    database_url, kafka_bootstrap, tmp_path, synthetic_frame
):
    """The real path of `statmuse train`: a fitted bundle goes to the artifact store with its
    checksum, into the registry with its metadata, and out on the topic; a ModelBook fed
    those events serves it. A second, promoted run archives the first."""
    import json

    from statmuse_shared.models.count import CountModel
    from statmuse_shared.models.serving import predict
    from statmuse_trainer.registry.publish import register_and_publish
    from statmuse_trainer.training.fitting import fit_stat

    await migrate(database_url, schemas=["registry"])
    await ensure_topics(kafka_bootstrap, topics.all_with_dead_letters())
    fitted = await asyncio.to_thread(fit_stat, synthetic_frame, "points", jobs=1)
    store = LocalArtifactStore(tmp_path)
    pool = await create_pool(database_url)
    rt = runtime(database_url, kafka_bootstrap, store)
    try:
        published = []
        async with rt.running(consume=False):
            for promote_it in (True, True):
                published.append(
                    await register_and_publish(
                        rt,
                        stat=Stat.POINTS,
                        name=fitted.name,
                        model_type="count_model",
                        data=fitted.bundle,
                        suffix="npz",
                        feature_set_version="fs-2",
                        dataset_version="abc123",
                        metrics=ModelMetrics(mae=fitted.validation["mae"]),
                        metadata={
                            "chosen": fitted.chosen,
                            "feature_importance": fitted.importance.head(3).to_dict("records"),
                        },
                        promote=promote_it,
                    )
                )
        first, second = published
        assert first.version.endswith(f"-{fitted.name}")
        assert second.version == f"{first.version}-r2"
        registry = PostgresRegistry(Database.of(pool))
        assert await alias_version(registry, "points", "production") == second.version
        assert await alias_version(registry, "points", "archived") == first.version
        async with pool.acquire() as conn:
            meta = json.loads(
                await conn.fetchval(
                    "SELECT metadata::text FROM registry.model_versions WHERE version = $1",
                    first.version,
                )
            )
        assert meta["chosen"] == fitted.chosen
        assert len(meta["feature_importance"]) == 3

        events = await events_on_topic(kafka_bootstrap, 3)
        assert [(e.version, e.alias) for e in events] == [
            (first.version, "production"),
            (second.version, "production"),
            (first.version, "archived"),
        ]
        book = ModelBook(store=store)
        for e in events:
            book.apply(e)
        served = book.for_stat(Stat.POINTS)
        assert served is not None
        assert served.info.version == second.version
        assert isinstance(served.model, CountModel)
        row = synthetic_frame.iloc[-1]
        features = {
            n: (None if row[f"f_{n}"] != row[f"f_{n}"] else float(row[f"f_{n}"]))
            for n in served.model.header.features
        }
        p = predict(served, features, line=12.5, player_id=int(row["player_id"]))
        assert p.over_probability + p.under_probability + p.push_probability == pytest.approx(1)
        assert p.model_version == second.version
    finally:
        await pool.close()


async def test_a_repeated_command_moves_nothing_twice(database_url, kafka_bootstrap, tmp_path):
    """Kafka may deliver a command again (the trainer stopped after the move, before its
    offset was committed): the second delivery re-announces production and moves nothing."""
    await migrate(database_url, schemas=["registry"])
    await ensure_topics(kafka_bootstrap, topics.all_with_dead_letters())
    store = LocalArtifactStore(tmp_path)
    async with runtime(database_url, kafka_bootstrap, store).running(consume=False) as rt:
        async with rt.registry.transaction() as tx:
            for name, alias in (("v1", "production"), ("v2", "staging")):
                await tx.register(version(store, name, alias, 7.0))
        await promote(rt, "points")  # v2 production, v1 archived
        first = await rollback(rt, "points", command_id="cmd-1")
        assert [(e.version, e.alias) for e in first] == [("v1", "production"), ("v2", "archived")]
        again = await rollback(rt, "points", command_id="cmd-1")
        assert [(e.version, e.alias) for e in again] == [("v1", "production")]
        assert await alias_version(rt.registry, "points", "production") == "v1"
        # A new command id is a new move: back to v2.
        other = await rollback(rt, "points", command_id="cmd-2")
        assert other[0].version == "v2"
