"""Thin subscribers: models in (every instance sees all), features in (split by the group)."""

import asyncio
import uuid
from typing import Any

from faststream.kafka import KafkaBroker

from statmuse_predictor import metrics
from statmuse_predictor.adapters import postgres as db
from statmuse_predictor.service import Routed, predictions_for, routing_date
from statmuse_predictor.settings import PredictorSettings
from statmuse_shared.contract import topics
from statmuse_shared.contract.messages import FeaturesComputed, ModelPublished, PredictionMade
from statmuse_shared.contract.stats import Stat
from statmuse_shared.models.serving import ModelBook
from statmuse_shared.platform.broker import Record, publish_many, subscribe


async def publish_predictions(broker: KafkaBroker, pool: Any, routed: list[Routed]) -> None:
    if not routed:
        return
    made: list[PredictionMade] = [r.prediction for r in routed]
    async with pool.acquire() as conn:
        await db.store_predictions(conn=conn, made=made)
    await publish_many(
        broker, [(topics.PREDICTIONS, topics.player_key(p.player_id), p) for p in made]
    )
    for r in routed:
        p = r.prediction
        metrics.PREDICTIONS.labels(p.stat.value).inc()
        metrics.PREDICTIONS_BY_VERSION.labels(p.stat.value, p.model_version, r.arm).inc()


def register(broker: KafkaBroker, state: dict[str, Any], *, settings: PredictorSettings) -> None:
    book: ModelBook = state["book"]

    async def on_model_published(batch: list[tuple[Record, ModelPublished]]) -> None:
        for _, event in batch:
            if not await asyncio.to_thread(book.apply, event):  # reads the artifact file
                continue
            metrics.MODELS_LOADED.set(len(book.production))
            metrics.CHALLENGERS_LOADED.set(len(book.staging))
            # A new production model (or A/B challenger) re-predicts every player's next game
            # for its stat, routed by the same (player, date) as the first prediction.
            async with state["pool"].acquire() as conn:
                latest = await db.latest_all(conn=conn)

            # Every player's next game through the model: CPU work, off the event loop.
            def repredict(rows: list[Any] = latest, stat: Stat = event.stat) -> list[Routed]:
                return [
                    p
                    for row in rows
                    for p in predictions_for(
                        book,
                        player_id=row.player_id,
                        player_name=row.player_name,
                        as_of=row.as_of,
                        game_date=row.game_date,
                        features=row.features,
                        stats=(stat,),
                    )
                ]

            made = await asyncio.to_thread(repredict)
            await publish_predictions(broker, state["pool"], made)

    async def on_features(batch: list[tuple[Record, FeaturesComputed]]) -> None:
        # Vectors of games already played (kind "game") are training data, not predictions.
        vectors = [m for _, m in batch if m.kind == "next"]
        async with state["pool"].acquire() as conn:
            await db.upsert_latest(conn=conn, vectors=vectors)

        def predict_new() -> list[Routed]:
            return [
                p
                for v in vectors
                for p in predictions_for(
                    book,
                    player_id=v.player_id,
                    player_name=v.player_name,
                    as_of=v.as_of,
                    game_date=routing_date(v),
                    features=v.features,
                )
            ]

        made = await asyncio.to_thread(predict_new)  # the model is CPU work: off the loop
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
