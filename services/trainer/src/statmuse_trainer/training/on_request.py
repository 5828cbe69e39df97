"""Train on request: labelled examples -> fitted model -> artifact -> registry -> event."""

import asyncio
import datetime as dt
import hashlib
import logging
from typing import TYPE_CHECKING, Any

import asyncpg
from faststream.kafka import KafkaBroker

from statmuse_shared.contract import ids, topics
from statmuse_shared.contract.messages import ModelMetrics, ModelPublished, TrainRequested
from statmuse_shared.contract.stats import Stat
from statmuse_shared.models.artifacts import ArtifactStore
from statmuse_shared.platform.legacy import publish_many
from statmuse_trainer.adapters import postgres as db
from statmuse_trainer.registry.moves import event_of
from statmuse_trainer.settings import TrainerSettings
from statmuse_trainer.training.baseline import fit_rolling_mean

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)


class TrainingRefused(ValueError):
    pass


class AlreadyTrained(Exception):  # noqa: N818 - an outcome, not a failure
    """A pooled retrain of this stat already ran today: the request is answered by it."""

    def __init__(self, version: str) -> None:
        super().__init__(f"already retrained today as {version}")
        self.version = version


async def train(
    *,
    pool: asyncpg.Pool,
    store: ArtifactStore,
    broker: KafkaBroker,
    request: TrainRequested,
    settings: TrainerSettings,
    today: dt.date | None = None,
) -> ModelPublished:
    if request.model_kind == "pooled":
        return await train_pooled(
            pool=pool, store=store, broker=broker, request=request, settings=settings, today=today
        )
    if request.model_kind != "baseline":
        raise TrainingRefused(
            f"model kind {request.model_kind!r} is not trained on request (baseline or pooled)"
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
        pool=pool,
        store=store,
        broker=broker,
        stat=request.stat,
        name=f"{request.stat.value}-baseline",
        model_type=fitted.artifact.model_type,
        data=data,
        suffix="json",
        feature_set_version=fsv,
        dataset_version=None,
        metrics=ModelMetrics(
            mae=fitted.metrics["mae"],
            rmse=fitted.metrics["rmse"],
            n_train=int(fitted.metrics["n_train"]),
        ),
        promote=request.promote,
        today=today,
    )


async def pooled_frame(
    conn: asyncpg.Connection, settings: TrainerSettings
) -> tuple[str, "pd.DataFrame"]:
    """The training dataset from the stored game vectors, split and leakage-checked exactly as
    `statmuse-trainer dataset` builds it; returns its content hash and the frame."""
    from statmuse_shared.features import FEATURE_SET_VERSION
    from statmuse_trainer.training.dataset import Split, check, content_hash, frame

    split = Split(
        settings.pooled_train_seasons,
        settings.pooled_validation_seasons,
        settings.pooled_test_seasons,
    )
    seasons = [*split.train, *split.validation, *split.test]
    rows = await db.dataset_rows(
        conn=conn, feature_set_version=FEATURE_SET_VERSION, seasons=seasons
    )

    def prepare() -> tuple[str, "pd.DataFrame"]:  # ~190k rows of pandas: off the event loop
        df = frame(rows, split)
        check(df, split)
        return content_hash(df), df

    return await asyncio.to_thread(prepare)


async def train_pooled(
    *,
    pool: asyncpg.Pool,
    store: ArtifactStore,
    broker: KafkaBroker,
    request: TrainRequested,
    settings: TrainerSettings,
    today: dt.date | None = None,
    load: Any = None,
) -> ModelPublished:
    """The full model of one stat (candidates, search, ensembles, per-player heads,
    calibration: `statmuse train` for one stat), registered and announced. A request for one
    player is answered by retraining the stat, which refits every player's head; once a stat
    was retrained on a day, further requests that day are answered by that version."""
    from statmuse_trainer.training.fitting import fit_stat

    day = (today or dt.date.today()).isoformat()
    async with pool.acquire() as conn:
        done = await conn.fetchval(
            """SELECT version FROM registry.model_versions
               WHERE stat = $1 AND model_type = 'count_model' AND version LIKE $2
               ORDER BY trained_at DESC LIMIT 1""",
            request.stat.value,
            f"v{day}-%",
        )
        if done is not None:
            raise AlreadyTrained(done)
        version, df = await (load or pooled_frame)(conn, settings)
    try:
        fitted = await asyncio.to_thread(
            fit_stat, df, request.stat.value, jobs=settings.pooled_jobs
        )
    except ValueError as exc:  # too few rows for this stat
        raise TrainingRefused(str(exc)) from exc
    metadata = fitted.metadata(version)
    return await register_and_publish(
        pool=pool,
        store=store,
        broker=broker,
        stat=request.stat,
        name=fitted.name,
        model_type="count_model",
        data=fitted.bundle,
        suffix="npz",
        feature_set_version=fitted.header.feature_set_version,
        dataset_version=version,
        metrics=ModelMetrics.model_validate(metadata["metrics"]),
        metadata=metadata,
        promote=request.promote,
        today=today,
    )


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
        events.append(
            (topics.MODELS_PUBLISHED, published.key.encode(), event_of(archived, "archived"))
        )
    await publish_many(broker, events)
    log.info("published %s as %s", version, alias)
    return published


def checksum_prefix(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]
