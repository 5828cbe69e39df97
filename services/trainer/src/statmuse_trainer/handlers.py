"""Thin subscribers: feature vectors become training examples; train requests train; alias
commands (promote, rollback) move the registry's aliases; predictions are kept for the
monitor, which settles them against the games' outcomes. Models and train requests go out
through the publishers declared here."""

import logging
from dataclasses import dataclass

from faststream.kafka import KafkaRouter
from faststream.kafka.publisher.usecase import DefaultPublisher

from statmuse_shared.contract import topics
from statmuse_shared.contract.messages import (
    AbTestReported,
    FeaturesComputed,
    ModelAliasRequested,
    ModelPublished,
    PredictionMade,
    PropPriced,
    TrainRequested,
)
from statmuse_shared.platform.consumers import (
    Refused,
    batch_subscriber,
    consumer_router,
    publisher,
    vectors_subscriber,
)
from statmuse_trainer import metrics
from statmuse_trainer.monitoring.performance import book_prop
from statmuse_trainer.registry.moves import RegistryError, carry_out
from statmuse_trainer.runtime import Runtime
from statmuse_trainer.settings import TrainerSettings
from statmuse_trainer.training.baseline import NotEnoughData
from statmuse_trainer.training.on_request import AlreadyTrained, TrainingRefused, train

log = logging.getLogger(__name__)


async def on_features(vectors: list[FeaturesComputed], rt: Runtime) -> None:
    """The vectors of played games (they carry their outcome) are the training examples."""
    stored = await rt.examples.upsert(vectors)
    metrics.EXAMPLES.inc(stored)
    metrics.VECTORS_SEEN.inc(len(vectors))


async def on_train_requested(
    requests: list[TrainRequested], rt: Runtime
) -> list[Refused[TrainRequested]]:
    """Train what is asked; a request that cannot be carried out is refused with why."""
    refused = []
    for request in requests:
        try:
            await train(rt, request)
            metrics.TRAINED.labels(request.stat.value, "published").inc()
        except AlreadyTrained as done:  # answered by today's retrain of the stat
            log.info("%s (%s): %s", request.stat.value, request.reason, done)
            metrics.TRAINED.labels(request.stat.value, "already_trained").inc()
        except (TrainingRefused, NotEnoughData) as exc:
            refused.append(Refused(request, str(exc)))
            metrics.TRAINED.labels(request.stat.value, "refused").inc()
    return refused


async def on_alias_requested(
    commands: list[ModelAliasRequested], rt: Runtime
) -> list[Refused[ModelAliasRequested]]:
    """Promote or roll back; a move that cannot be made (nothing staged, nothing to roll back
    to) is refused with why."""
    refused = []
    for command in commands:
        try:
            events = await carry_out(rt, command)
        except RegistryError as exc:
            refused.append(Refused(command, str(exc)))
            continue
        log.info(
            "%s of %s by %s: %s",
            command.action,
            command.key,
            command.requested_by,
            [(e.version, e.alias) for e in events],
            extra={"topic": topics.MODEL_COMMANDS, "event_id": command.event_id},
        )
    return refused


async def on_props_priced(props: list[PropPriced], rt: Runtime) -> None:
    """Posted lines priced by both arms of an A/B test (the others are not the monitor's),
    kept for settling the test against the books."""
    kept = [p for p in map(book_prop, props) if p is not None]
    await rt.monitor.store_ab_props(kept)


async def on_predictions(made: list[PredictionMade], rt: Runtime) -> None:
    """Kept (once per event id) for the monitor to settle against the games."""
    await rt.monitor.store_predictions(made)
    metrics.PREDICTIONS_SEEN.inc(len(made))


@dataclass(frozen=True)
class Channels:
    """The trainer's side of Kafka: its subscribers (on `router`) and what it publishes."""

    router: KafkaRouter
    models: DefaultPublisher
    train_requests: DefaultPublisher
    ab_tests: DefaultPublisher


def channels(settings: TrainerSettings) -> Channels:
    router = consumer_router()
    models = publisher(
        router,
        topics.MODELS_PUBLISHED,
        payload=ModelPublished,
        service="trainer",
        description="A model version under an alias (production, staging, archived), key "
        "<stat> or <stat>:<player_id>: registered by a training run or moved by a promote or "
        "a rollback.",
    )
    train_requests = publisher(
        router,
        topics.TRAIN_REQUESTS,
        payload=TrainRequested,
        service="trainer",
        description="Retraining asked for by the drift monitor and the daily and weekly "
        "schedule (key: stat).",
    )
    ab_tests = publisher(
        router,
        topics.AB_TESTS,
        payload=AbTestReported,
        service="trainer",
        description="Where each stat's A/B test stands (both arms on the same settled props, "
        "the Brier difference's always-valid confidence sequence, the verdict), after each "
        "settle day (key: stat).",
    )
    group = settings.group_id
    vectors_subscriber(
        router,
        group_id=group,
        description="The vectors of played games (with their outcome) are stored as training "
        "examples.",
    )(on_features)
    # One at a time: a pooled retrain is about a minute of CPU, and the consumer must poll
    # again well within max.poll.interval.ms (5 min) or it is thrown out of its group.
    batch_subscriber(
        router,
        topics.TRAIN_REQUESTS,
        group_id=f"{group}-commands",
        payload=TrainRequested,
        max_records=1,
    )(on_train_requested)
    # A group of its own: a long training run must not hold up a promote or a rollback.
    batch_subscriber(
        router,
        topics.MODEL_COMMANDS,
        group_id=f"{group}-model-commands",
        payload=ModelAliasRequested,
        max_records=10,
    )(on_alias_requested)
    # A group of its own: storing predictions for the monitor never waits on training.
    batch_subscriber(
        router, topics.PREDICTIONS, group_id=f"{group}-monitor", payload=PredictionMade
    )(on_predictions)
    # The A/B tests' priced lines, to settle them against the books.
    batch_subscriber(router, topics.PROPS_PRICED, group_id=f"{group}-ab-props", payload=PropPriced)(
        on_props_priced
    )
    return Channels(router, models, train_requests, ab_tests)


def asyncapi_router() -> KafkaRouter:
    """The channels as declared with default settings, for the AsyncAPI document."""
    return channels(TrainerSettings.model_construct()).router
