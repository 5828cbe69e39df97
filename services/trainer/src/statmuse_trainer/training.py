"""Train on request: labelled examples -> fitted model -> artifact -> registry -> event."""

import asyncio
import datetime as dt
import hashlib
import logging
from typing import Any

import asyncpg
from faststream.kafka import KafkaBroker

from statmuse_shared import ids, topics
from statmuse_shared.artifacts import ArtifactStore
from statmuse_shared.broker import publish_many
from statmuse_shared.messages import ModelMetrics, ModelPublished, TrainRequested
from statmuse_shared.stats import Stat
from statmuse_trainer.adapters import postgres as db
from statmuse_trainer.registry import event_of
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
        raise TrainingRefused(
            f"model kind {request.model_kind!r} is not trained on request: the full models "
            "come from `statmuse train` (about 15 minutes of CPU, not a message handler's job)"
        )
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
    return await register_and_publish(
        pool=pool, store=store, broker=broker, stat=request.stat,
        name=f"{request.stat.value}-baseline", model_type=fitted.artifact.model_type,
        data=data, suffix="json", feature_set_version=fsv, dataset_version=None,
        metrics=ModelMetrics(mae=fitted.metrics["mae"], rmse=fitted.metrics["rmse"],
                             n_train=int(fitted.metrics["n_train"])),
        promote=request.promote, today=today,
    )  # fmt: skip


async def register_and_publish(
    *,
    pool: asyncpg.Pool,
    store: ArtifactStore,
    broker: KafkaBroker,
    stat: Stat,
    name: str,
    model_type: str,
    data: bytes,
    suffix: str,
    feature_set_version: str,
    dataset_version: str | None,
    metrics: ModelMetrics,
    metadata: dict[str, Any] | None = None,
    promote: bool,
    today: dt.date | None = None,
) -> ModelPublished:
    """Store the artifact (with its checksum), add the version to the registry under
    `production` or `staging`, and announce it on the models topic."""
    day = (today or dt.date.today()).isoformat()
    uri, checksum = store.put(f"{stat.value}/{name}-{checksum_prefix(data)}.{suffix}", data)
    alias = "production" if promote else "staging"
    async with pool.acquire() as conn:
        version = await db.next_version(conn=conn, base=f"v{day}-{name}")
        published = ModelPublished(
            event_id=ids.event_id("model", version, alias),
            name=name,
            version=version,
            stat=stat,
            alias=alias,
            model_type=model_type,
            artifact_uri=uri,
            checksum=checksum,
            feature_set_version=feature_set_version,
            dataset_version=dataset_version,
            metrics=metrics,
        )
        async with conn.transaction():
            current = await db.alias_version(conn=conn, key=published.key, alias="production")
            await db.register(conn=conn, published=published, metadata=metadata)
            archived = None
            if promote and current is not None:
                await db.set_alias(conn=conn, key=published.key, alias="archived", version=current)
                archived = await db.version_row(conn=conn, version=current)
    events = [(topics.MODELS_PUBLISHED, published.key.encode(), published)]
    if archived is not None:
        events.append((topics.MODELS_PUBLISHED, published.key.encode(),
                       event_of(archived, "archived")))  # fmt: skip
    await publish_many(broker, events)
    log.info("published %s as %s", version, alias)
    return published


def checksum_prefix(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]
