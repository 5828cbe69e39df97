"""The gateway's read models: feature vectors and players, and the models it serves."""

import uuid
from typing import Any

from faststream.kafka import KafkaBroker

from statmuse_gateway import metrics
from statmuse_gateway.adapters import postgres as db
from statmuse_gateway.settings import GatewaySettings
from statmuse_shared import topics
from statmuse_shared.broker import Record, subscribe
from statmuse_shared.messages import FeaturesComputed, ModelPublished
from statmuse_shared.serving import ModelBook


def register(broker: KafkaBroker, state: dict[str, Any], *, settings: GatewaySettings) -> None:
    book: ModelBook = state["book"]

    async def on_features(batch: list[tuple[Record, FeaturesComputed]]) -> None:
        async with state["pool"].acquire() as conn:
            await db.upsert_vectors(conn=conn, vectors=[m for _, m in batch])
        metrics.VECTORS.inc(len(batch))

    async def on_model_published(batch: list[tuple[Record, ModelPublished]]) -> None:
        for _, event in batch:
            book.apply(event)
            async with state["pool"].acquire() as conn:
                await db.upsert_model(conn=conn, event=event)
        metrics.MODELS_SERVED.set(len(book.production))

    subscribe(
        broker,
        topics.FEATURES,
        group_id=settings.group_id,
        model=FeaturesComputed,
        handle=on_features,
    )
    # Every gateway instance serves every model: a group of its own, read from the start.
    subscribe(
        broker,
        topics.MODELS_PUBLISHED,
        group_id=f"{settings.group_id}-models-{uuid.uuid4().hex[:12]}",
        model=ModelPublished,
        handle=on_model_published,
    )
