"""Thin subscribers: models in (every instance sees all), features in (split by the group)."""

import asyncio
import uuid
from typing import Any

from faststream.kafka import KafkaBroker

from statmuse_predictor import metrics
from statmuse_predictor.adapters import postgres as db
from statmuse_predictor.service import predictions_for
from statmuse_predictor.settings import PredictorSettings
from statmuse_shared import topics
from statmuse_shared.broker import Record, publish_many, subscribe
from statmuse_shared.messages import FeaturesComputed, ModelPublished, PredictionMade
from statmuse_shared.serving import ModelBook


async def publish_predictions(broker: KafkaBroker, pool: Any, made: list[PredictionMade]) -> None:
    if not made:
        return
    async with pool.acquire() as conn:
        await db.store_predictions(conn=conn, made=made)
    await publish_many(
        broker, [(topics.PREDICTIONS, topics.player_key(p.player_id), p) for p in made]
    )
    for p in made:
        metrics.PREDICTIONS.labels(p.stat.value).inc()


def register(broker: KafkaBroker, state: dict[str, Any], *, settings: PredictorSettings) -> None:
    book: ModelBook = state["book"]

    async def on_model_published(batch: list[tuple[Record, ModelPublished]]) -> None:
        for _, event in batch:
            if not await asyncio.to_thread(book.apply, event):  # reads the artifact file
                continue
            metrics.MODELS_LOADED.set(len(book.production))
            # A new production model re-predicts every player's next game for its stat.
            async with state["pool"].acquire() as conn:
                latest = await db.latest_all(conn=conn)
            made = [
                p
                for pid, name, as_of, features in latest
                for p in predictions_for(
                    book,
                    player_id=pid,
                    player_name=name,
                    as_of=as_of,
                    features=features,
                    stats=(event.stat,),
                )
            ]
            await publish_predictions(broker, state["pool"], made)

    async def on_features(batch: list[tuple[Record, FeaturesComputed]]) -> None:
        # Vectors of games already played (kind "game") are training data, not predictions.
        vectors = [m for _, m in batch if m.kind == "next"]
        async with state["pool"].acquire() as conn:
            await db.upsert_latest(conn=conn, vectors=vectors)
        made = [
            p
            for v in vectors
            for p in predictions_for(
                book,
                player_id=v.player_id,
                player_name=v.player_name,
                as_of=v.as_of,
                features=v.features,
            )
        ]
        await publish_predictions(broker, state["pool"], made)
        metrics.VECTORS.inc(len(batch))

    # A group of its own per instance, from the start: every instance serves every model.
    models_group = f"{settings.group_id}-models-{uuid.uuid4().hex[:12]}"
    subscribe(
        broker,
        topics.MODELS_PUBLISHED,
        group_id=models_group,
        model=ModelPublished,
        handle=on_model_published,
    )
    subscribe(
        broker,
        topics.FEATURES,
        group_id=settings.group_id,
        model=FeaturesComputed,
        handle=on_features,
    )
