"""The registry in MLflow: promote, then roll back, against a real MLflow server, PostgreSQL
and the broker (a ModelBook fed the published events serves the right version at every
step, and MLflow's `champion` alias agrees); a fitted model's training run (parameters,
metrics, bundle, metadata) and its model version in MLflow."""

import asyncio
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from aiokafka import AIOKafkaConsumer

from statmuse_shared.contract import ids, topics
from statmuse_shared.contract.messages import ModelMetrics, ModelPublished
from statmuse_shared.contract.stats import Stat
from statmuse_shared.models.artifacts import LocalArtifactStore
from statmuse_shared.models.baseline import RollingMeanArtifact
from statmuse_shared.models.serving import ModelBook
from statmuse_shared.platform.broker import ensure_topics
from statmuse_shared.platform.migrations import migrate
from statmuse_trainer.app import build_runtime
from statmuse_trainer.ports import RegistryRepository
from statmuse_trainer.registry.moves import RegistryError, promote, rollback
from statmuse_trainer.runtime import TrainerRuntime
from statmuse_trainer.settings import TrainerSettings

if TYPE_CHECKING:
    from mlflow import MlflowClient

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


def runtime(
    database_url: str, kafka_bootstrap: str, store: LocalArtifactStore, tracking_uri: str
) -> TrainerRuntime:
    settings = TrainerSettings(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap,
        mlflow_tracking_uri=tracking_uri,
        mlflow_artifact_location=(store.root / "mlflow").as_uri()
        if tracking_uri.startswith("sqlite")
        else None,
    )
    return build_runtime(settings, store=store)


def client(tracking_uri: str) -> "MlflowClient":
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri, tracking_uri)


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


async def test_promote_then_rollback_round_trip(
    database_url, kafka_bootstrap, tmp_path, mlflow_server
):
    await migrate(database_url, schemas=["registry"])
    await ensure_topics(kafka_bootstrap, topics.all_with_dead_letters())
    store = LocalArtifactStore(tmp_path)
    ml = client(mlflow_server)
    rt = runtime(database_url, kafka_bootstrap, store, mlflow_server)
    async with rt.running(consume=False):
        async with rt.registry.transaction() as tx:
            await tx.register(version(store, "v1", "production", 7.0))
            await tx.register(version(store, "v2", "staging", 6.0))

        with pytest.raises(RegistryError, match="no earlier production"):
            await rollback(rt, "points")

        champion = ml.get_model_version_by_alias("statmuse-points", "champion")
        assert champion.tags["statmuse.version"] == "v1"
        assert ml.get_model_version_by_alias("statmuse-points", "challenger").version == "2"

        promoted = await promote(rt, "points", requested_by="apikey:ops")
        assert [(e.version, e.alias) for e in promoted] == [
            ("v2", "production"),
            ("v1", "archived"),
        ]
        assert await alias_version(rt.registry, "points", "production") == "v2"
        assert await alias_version(rt.registry, "points", "staging") is None
        # In MLflow itself: v2 is the champion, no challenger is left, v1 is archived.
        model = ml.get_registered_model("statmuse-points")
        assert model.aliases == {"champion": "2"}
        assert "statmuse.archived_at" in ml.get_model_version("statmuse-points", "1").tags
        with pytest.raises(RegistryError, match="nothing is staged"):
            await promote(rt, "points")

        rolled = await rollback(rt, "points", requested_by="cli:someone")
        assert [(e.version, e.alias) for e in rolled] == [("v1", "production"), ("v2", "archived")]
        assert await alias_version(rt.registry, "points", "production") == "v1"
        assert ml.get_registered_model("statmuse-points").aliases == {"champion": "1"}
        assert "statmuse.archived_at" not in ml.get_model_version("statmuse-points", "1").tags

        # The audit log: every move, in order (the old champion archived before the alias
        # moves, so a move cut short leaves the champion where it was), with who asked.
        async with rt.db.acquire() as conn:
            audit = await conn.fetch(
                "SELECT alias, version, requested_by FROM registry.alias_history ORDER BY id"
            )
        assert [tuple(r) for r in audit] == [
            ("production", "v1", None),
            ("staging", "v2", None),
            ("archived", "v1", "apikey:ops"),
            ("production", "v2", "apikey:ops"),
            ("archived", "v2", "cli:someone"),
            ("production", "v1", "cli:someone"),
        ]

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
    database_url, kafka_bootstrap, tmp_path, synthetic_frame, mlflow_tracking_uri
):
    """The real path of `statmuse train`: a fitted bundle goes to the artifact store with its
    checksum, into MLflow (a run with its parameters, metrics, metadata, bundle and report
    files; a model version made from it) and out on the topic; a ModelBook fed those events
    serves it. A second, promoted run archives the first."""
    import json

    from statmuse_shared.models.count import CountModel
    from statmuse_shared.models.serving import predict
    from statmuse_trainer.registry.publish import register_and_publish
    from statmuse_trainer.training.fitting import fit_stat

    await migrate(database_url, schemas=["registry"])
    await ensure_topics(kafka_bootstrap, topics.all_with_dead_letters())
    fitted = await asyncio.to_thread(fit_stat, synthetic_frame, "points", jobs=1)
    store = LocalArtifactStore(tmp_path)
    report = tmp_path / "reliability_points.png"
    report.write_bytes(b"\x89PNG not really")
    rt = runtime(database_url, kafka_bootstrap, store, mlflow_tracking_uri)
    ml = client(mlflow_tracking_uri)
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
                            **fitted.metadata("abc123"),
                            "feature_importance": fitted.importance.head(3).to_dict("records"),
                        },
                        promote=promote_it,
                        reports=[report],
                    )
                )
            assert await alias_version(rt.registry, "points", "production") == published[1].version
        first, second = published
        assert first.version.endswith(f"-{fitted.name}")
        assert second.version == f"{first.version}-r2"
        # MLflow: each version is made from its run, which holds what the training produced.
        [v1] = ml.search_model_versions(f"tags.`statmuse.version` = '{first.version}'")
        assert "statmuse.archived_at" in v1.tags
        assert v1.source == f"runs:/{v1.run_id}/bundle"
        assert first.tracking is not None
        assert first.tracking.run_id == v1.run_id
        run = ml.get_run(v1.run_id)
        assert run.info.status == "FINISHED"
        assert run.data.params["chosen"] == fitted.chosen
        assert run.data.params["dataset_version"] == "abc123"
        assert run.data.metrics["validation.brier"] == pytest.approx(fitted.validation["brier"])
        assert run.data.metrics["train.n"] == fitted.n_train
        assert any(k.startswith("candidate.") for k in run.data.metrics)
        files = {a.path for a in ml.list_artifacts(v1.run_id)}
        assert files == {"metadata.json", "bundle", "report"}
        [bundle] = ml.list_artifacts(v1.run_id, "bundle")
        local = ml.download_artifacts(v1.run_id, bundle.path, str(tmp_path / "dl"))
        bundle_bytes = await asyncio.to_thread(Path(local).read_bytes)
        assert CountModel.from_bytes(bundle_bytes).header.stat == Stat.POINTS
        meta_file = ml.download_artifacts(v1.run_id, "metadata.json", str(tmp_path / "dl"))
        meta = json.loads(await asyncio.to_thread(Path(meta_file).read_text))
        assert meta["chosen"] == fitted.chosen
        assert len(meta["feature_importance"]) == 3
        assert [a.path for a in ml.list_artifacts(v1.run_id, "report")] == [
            "report/reliability_points.png"
        ]

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
        shutil.rmtree(tmp_path / "dl", ignore_errors=True)


async def test_a_repeated_command_moves_nothing_twice(
    database_url, kafka_bootstrap, tmp_path, mlflow_tracking_uri
):
    """Kafka may deliver a command again (the trainer stopped after the move, before its
    offset was committed): the second delivery re-announces production and moves nothing."""
    await migrate(database_url, schemas=["registry"])
    await ensure_topics(kafka_bootstrap, topics.all_with_dead_letters())
    store = LocalArtifactStore(tmp_path)
    rt = runtime(database_url, kafka_bootstrap, store, mlflow_tracking_uri)
    async with rt.running(consume=False):
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
