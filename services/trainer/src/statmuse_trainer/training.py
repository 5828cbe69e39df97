"""Train on request: labelled examples -> fitted model -> artifact -> registry -> event."""

import asyncio
import datetime as dt
import hashlib
import logging

import asyncpg
from faststream.kafka import KafkaBroker

from statmuse_shared import ids, topics
from statmuse_shared.artifacts import ArtifactStore
from statmuse_shared.broker import publish_model
from statmuse_shared.messages import ModelMetrics, ModelPublished, TrainRequested
from statmuse_trainer.adapters import postgres as db
from statmuse_trainer.service import fit_rolling_mean
from statmuse_trainer.settings import TrainerSettings

log = logging.getLogger(__name__)


class TrainingRefused(ValueError):
    pass


async def train(
    *,
    pool: asyncpg.Pool,
    store: ArtifactStore,
    broker: KafkaBroker,
    request: TrainRequested,
    settings: TrainerSettings,
    today: dt.date | None = None,
) -> ModelPublished:
    if request.model_kind != "baseline":
        raise TrainingRefused(f"model kind {request.model_kind!r} is not available yet")
    if request.player_id is not None:
        raise TrainingRefused("per-player models are not available yet")
    async with pool.acquire() as conn:
        fsv = await db.latest_feature_set(conn=conn)
        if fsv is None:
            raise TrainingRefused("no training examples yet")
        examples = await db.labelled_examples(
            conn=conn, stat=request.stat, feature_set_version=fsv, seasons=settings.train_seasons
        )
    fitted = await asyncio.to_thread(
        fit_rolling_mean,
        request.stat,
        examples,
        min_games=settings.min_games,
        feature_set_version=fsv,
    )
    data = fitted.artifact.model_dump_json(indent=2).encode()
    name = f"{request.stat.value}-baseline"
    day = (today or dt.date.today()).isoformat()
    uri, checksum = store.put(f"{request.stat.value}/{name}-{checksum_prefix(data)}.json", data)
    async with pool.acquire() as conn:
        version = await db.next_version(conn=conn, base=f"v{day}-{name}")
        published = ModelPublished(
            event_id=ids.event_id("model", version, "production" if request.promote else "staging"),
            name=name,
            version=version,
            stat=request.stat,
            alias="production" if request.promote else "staging",
            model_type=fitted.artifact.model_type,
            artifact_uri=uri,
            checksum=checksum,
            feature_set_version=fsv,
            dataset_version=None,
            metrics=ModelMetrics(
                mae=fitted.metrics["mae"],
                rmse=fitted.metrics["rmse"],
                n_train=int(fitted.metrics["n_train"]),
            ),
        )
        await db.register(conn=conn, published=published)
    await publish_model(
        broker, published, topic=topics.MODELS_PUBLISHED, key=published.key.encode()
    )
    log.info("published %s as %s", version, published.alias)
    return published


def checksum_prefix(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]
