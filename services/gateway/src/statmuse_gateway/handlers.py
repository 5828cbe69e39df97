"""The gateway's read models: feature vectors and players, and the models it serves."""

import uuid
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy

from statmuse_gateway import metrics
from statmuse_gateway.adapters import postgres as db
from statmuse_gateway.settings import GatewaySettings
from statmuse_shared import topics
from statmuse_shared.broker import decode_records, publish_dead_letters, records
from statmuse_shared.messages import FeaturesComputed, ModelPublished
from statmuse_shared.serving import ModelBook


def register(broker: KafkaBroker, state: dict[str, Any], *, settings: GatewaySettings) -> None:
    book: ModelBook = state["book"]
    models_group = f"{settings.group_id}-models-{uuid.uuid4().hex[:12]}"

    @broker.subscriber(
        topics.FEATURES,
        group_id=settings.group_id,
        batch=True,
        max_records=1000,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        heartbeat_interval_ms=1000,
    )
    async def on_features(msg: KafkaMessage) -> None:
        good, bad = decode_records(
            records(msg.raw_message), FeaturesComputed, consumer=settings.group_id
        )
        await publish_dead_letters(broker, bad)
        if good:
            async with state["pool"].acquire() as conn:
                await db.upsert_vectors(conn=conn, vectors=[m for _, m in good])
            metrics.VECTORS.inc(len(good))

    @broker.subscriber(
        topics.MODELS_PUBLISHED,
        group_id=models_group,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        heartbeat_interval_ms=1000,
    )
    async def on_model_published(msg: KafkaMessage) -> None:
        good, bad = decode_records(records(msg.raw_message), ModelPublished, consumer=models_group)
        await publish_dead_letters(broker, bad)
        for _, event in good:
            book.apply(event)
            metrics.MODELS_SERVED.set(len(book.production))
            async with state["pool"].acquire() as conn:
                await db.upsert_model(conn=conn, event=event)
