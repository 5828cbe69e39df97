"""A TrainRequested for the full (pooled) model, or the daily per-player one, trains the stat,
registers it staged and announces it; a second request for the stat on the same day, per
player included, is answered by that version instead of training again."""

import asyncio
import datetime as dt
import time

import pytest
from aiokafka import AIOKafkaConsumer

from statmuse_shared.contract import topics
from statmuse_shared.contract.messages import ModelPublished, TrainRequested
from statmuse_shared.contract.stats import Stat
from statmuse_shared.models.artifacts import LocalArtifactStore
from statmuse_shared.models.count import CountModel
from statmuse_shared.platform.broker import ensure_topics
from statmuse_shared.platform.migrations import migrate
from statmuse_trainer.app import build_runtime
from statmuse_trainer.settings import TrainerSettings
from statmuse_trainer.training.on_request import AlreadyTrained, train

pytestmark = pytest.mark.integration
DAY = dt.date(2026, 11, 25)


async def test_a_pooled_request_trains_registers_and_announces_once_a_day(
    database_url, kafka_bootstrap, tmp_path, synthetic_frame, mlflow_tracking_uri
):
    from mlflow import MlflowClient

    await migrate(database_url, schemas=["registry"])
    await ensure_topics(kafka_bootstrap, topics.all_with_dead_letters())
    store = LocalArtifactStore(tmp_path)
    settings = TrainerSettings(database_url=database_url, kafka_bootstrap_servers=kafka_bootstrap)
    rt = build_runtime(settings, store=store)
    await rt.db.open()
    await rt.broker.connect()
    loads = []

    async def load(examples, s):  # the stored vectors stand-in: the synthetic dataset frame
        loads.append(s)
        return "synthetic", synthetic_frame

    # The daily job's per-player request trains the stat's full model (every player's head).
    request = TrainRequested(
        event_id="r1", stat=Stat.POINTS, model_kind="per_player", reason="schedule", promote=False
    )
    try:
        published = await train(rt, request, today=DAY, load=load)
        assert published.alias == "staging"
        assert published.model_type == "count_model"
        assert published.version.startswith("v2026-11-25-points-")
        assert published.dataset_version == "synthetic"
        model = CountModel.from_bytes(
            store.get(published.artifact_uri, checksum=published.checksum)
        )
        assert model.stat is Stat.POINTS
        # Its MLflow run says which dataset trained it.
        assert published.tracking is not None
        assert published.tracking.run_id is not None
        run = await asyncio.to_thread(
            MlflowClient(mlflow_tracking_uri).get_run, published.tracking.run_id
        )
        assert run.data.params["dataset_version"] == "synthetic"
        reported = await asyncio.to_thread(
            MlflowClient(mlflow_tracking_uri).list_artifacts, run.info.run_id, "report"
        )
        assert "report/reliability_points.png" in {a.path for a in reported}

        # Same day, one player's request: answered by the version just trained.
        again = TrainRequested(
            event_id="r2", stat=Stat.POINTS, player_id=3, model_kind="pooled", reason="schedule"
        )
        with pytest.raises(AlreadyTrained) as done:
            await train(rt, again, today=DAY)
        assert done.value.version == published.version
        assert len(loads) == 1

        consumer = AIOKafkaConsumer(
            topics.MODELS_PUBLISHED,
            bootstrap_servers=kafka_bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        seen: list[ModelPublished] = []
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not any(
                e.version == published.version for e in seen
            ):
                for records in (await consumer.getmany(timeout_ms=300)).values():
                    seen += [ModelPublished.model_validate_json(r.value) for r in records]
        finally:
            await consumer.stop()
        assert [e.alias for e in seen if e.version == published.version] == ["staging"]
    finally:
        await rt.broker.stop()
        await rt.db.close()
