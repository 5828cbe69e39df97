"""Thin subscribers: feature vectors become training examples; train requests train."""

import logging
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy

from statmuse_shared import topics
from statmuse_shared.broker import dead_letter, decode_records, publish_dead_letters, records
from statmuse_shared.messages import FeaturesComputed, TrainRequested
from statmuse_trainer import metrics
from statmuse_trainer.adapters import postgres as db
from statmuse_trainer.service import NotEnoughData
from statmuse_trainer.settings import TrainerSettings
from statmuse_trainer.training import TrainingRefused, train

log = logging.getLogger(__name__)


def register(broker: KafkaBroker, state: dict[str, Any], *, settings: TrainerSettings) -> None:
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
        async with state["pool"].acquire() as conn:
            await db.upsert_examples(conn=conn, vectors=[m for _, m in good])
        metrics.EXAMPLES.inc(len(good))

    @broker.subscriber(
        topics.TRAIN_REQUESTS,
        group_id=f"{settings.group_id}-commands",
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        heartbeat_interval_ms=1000,
    )
    async def on_train_requested(msg: KafkaMessage) -> None:
        batch = records(msg.raw_message)
        good, bad = decode_records(batch, TrainRequested, consumer=f"{settings.group_id}-commands")
        for record, request in good:
            try:
                await train(
                    pool=state["pool"],
                    store=state["store"],
                    broker=broker,
                    request=request,
                    settings=settings,
                )
                metrics.TRAINED.labels(request.stat.value, "published").inc()
            except (TrainingRefused, NotEnoughData) as exc:
                # A command we cannot carry out is answered on the dead-letter topic with why.
                bad.append(
                    (
                        record,
                        dead_letter(
                            record, error=str(exc), consumer=f"{settings.group_id}-commands"
                        ),
                    )
                )
                metrics.TRAINED.labels(request.stat.value, "refused").inc()
        await publish_dead_letters(broker, bad)
