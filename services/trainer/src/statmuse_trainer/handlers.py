"""Thin subscribers: feature vectors become training examples; train requests train."""

from typing import Any

from faststream.kafka import KafkaBroker

from statmuse_shared import topics
from statmuse_shared.broker import Record, dead_letter, subscribe
from statmuse_shared.messages import DeadLetter, FeaturesComputed, TrainRequested
from statmuse_trainer import metrics
from statmuse_trainer.adapters import postgres as db
from statmuse_trainer.service import NotEnoughData
from statmuse_trainer.settings import TrainerSettings
from statmuse_trainer.training import TrainingRefused, train


def register(broker: KafkaBroker, state: dict[str, Any], *, settings: TrainerSettings) -> None:
    commands_group = f"{settings.group_id}-commands"

    async def on_features(batch: list[tuple[Record, FeaturesComputed]]) -> None:
        async with state["pool"].acquire() as conn:
            stored = await db.upsert_examples(conn=conn, vectors=[m for _, m in batch])
        metrics.EXAMPLES.inc(stored)
        metrics.VECTORS_SEEN.inc(len(batch))

    async def on_train_requested(
        batch: list[tuple[Record, TrainRequested]],
    ) -> list[tuple[Record, DeadLetter]]:
        refused = []
        for record, request in batch:
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
                refused.append(
                    (record, dead_letter(record, error=str(exc), consumer=commands_group))
                )
                metrics.TRAINED.labels(request.stat.value, "refused").inc()
        return refused

    subscribe(
        broker,
        topics.FEATURES,
        group_id=settings.group_id,
        model=FeaturesComputed,
        handle=on_features,
    )
    subscribe(
        broker,
        topics.TRAIN_REQUESTS,
        group_id=commands_group,
        model=TrainRequested,
        handle=on_train_requested,
        max_records=10,
    )
