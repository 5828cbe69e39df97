"""Thin subscribers: feature vectors become training examples; train requests train; alias
commands (promote, rollback) move the registry's aliases; predictions are kept for the
monitor, which settles them against the games' outcomes."""

import logging
from typing import Any

from faststream.kafka import KafkaBroker

from statmuse_shared.contract import topics
from statmuse_shared.contract.messages import (
    DeadLetter,
    FeaturesComputed,
    ModelAliasRequested,
    PredictionMade,
    TrainRequested,
)
from statmuse_shared.platform.consumers import Record, dead_letter
from statmuse_shared.platform.legacy import subscribe
from statmuse_trainer import metrics
from statmuse_trainer.adapters import postgres as db
from statmuse_trainer.registry import moves as registry
from statmuse_trainer.settings import TrainerSettings
from statmuse_trainer.training.baseline import NotEnoughData
from statmuse_trainer.training.on_request import AlreadyTrained, TrainingRefused, train

log = logging.getLogger(__name__)


def register(broker: KafkaBroker, state: dict[str, Any], *, settings: TrainerSettings) -> None:
    commands_group = f"{settings.group_id}-commands"
    alias_group = f"{settings.group_id}-model-commands"
    monitor_group = f"{settings.group_id}-monitor"

    async def on_features(batch: list[tuple[Record, FeaturesComputed]]) -> None:
        async with state["pool"].acquire() as conn:
            stored = await db.upsert_examples(conn=conn, vectors=[m for _, m in batch])
        metrics.EXAMPLES.inc(stored)
        metrics.VECTORS_SEEN.inc(len(batch))

    async def on_predictions(batch: list[tuple[Record, PredictionMade]]) -> None:
        async with state["pool"].acquire() as conn:
            await db.store_predictions(conn=conn, made=[m for _, m in batch])
        metrics.PREDICTIONS_SEEN.inc(len(batch))

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
            except AlreadyTrained as done:  # answered by today's retrain of the stat
                log.info("%s (%s): %s", request.stat.value, request.reason, done)
                metrics.TRAINED.labels(request.stat.value, "already_trained").inc()
            except (TrainingRefused, NotEnoughData) as exc:
                # A command we cannot carry out is answered on the dead-letter topic with why.
                refused.append(
                    (record, dead_letter(record, error=str(exc), consumer=commands_group))
                )
                metrics.TRAINED.labels(request.stat.value, "refused").inc()
        return refused

    async def on_alias_requested(
        batch: list[tuple[Record, ModelAliasRequested]],
    ) -> list[tuple[Record, DeadLetter]]:
        refused = []
        for record, command in batch:
            move = registry.promote if command.action == "promote" else registry.rollback
            try:
                events = await move(
                    pool=state["pool"], broker=broker, key=command.key, command_id=command.event_id
                )
            except registry.RegistryError as exc:
                # Nothing staged, nothing to roll back to: answered on the dead-letter topic.
                refused.append((record, dead_letter(record, error=str(exc), consumer=alias_group)))
                continue
            log.info(
                "%s of %s by %s: %s",
                command.action,
                command.key,
                command.requested_by,
                [(e.version, e.alias) for e in events],
                extra={**record.log_extra, "event_id": command.event_id},
            )
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
        # One at a time: a pooled retrain is about a minute of CPU, and the consumer must poll
        # again well within max.poll.interval.ms (5 min) or it is thrown out of its group.
        max_records=1,
    )
    # A group of its own: a long training run must not hold up a promote or a rollback.
    subscribe(
        broker,
        topics.MODEL_COMMANDS,
        group_id=alias_group,
        model=ModelAliasRequested,
        handle=on_alias_requested,
        max_records=10,
    )
    # A group of its own: storing predictions for the monitor never waits on training.
    subscribe(
        broker,
        topics.PREDICTIONS,
        group_id=monitor_group,
        model=PredictionMade,
        handle=on_predictions,
    )
