"""Thin subscribers: raw games in, the engine, changed vectors out; the schedule in, the
pre-game vectors of the games to come out; who is out in, stored for the engine's league; the
rebalance listener that tells the engine which partitions (which players) are its own; and the
idle-time reconcile that publishes what it recomputed."""

import logging
import time
from dataclasses import dataclass

from aiokafka import ConsumerRebalanceListener, TopicPartition
from faststream.kafka import KafkaRouter
from faststream.kafka.publisher.usecase import DefaultPublisher
from faststream.kafka.subscriber.usecase import BatchSubscriber

from statmuse_features import metrics
from statmuse_features.engine import Engine
from statmuse_features.runtime import FeaturesRuntime, Runtime
from statmuse_features.settings import FeaturesSettings
from statmuse_shared.contract import topics
from statmuse_shared.contract.messages import (
    AvailabilityReported,
    FeaturesComputed,
    FeaturesHeader,
    GameScheduled,
    RawGame,
    split_games,
)
from statmuse_shared.contract.vectors import LAYOUT, PACKED
from statmuse_shared.platform.broker import publish_many
from statmuse_shared.platform.consumers import batch_subscriber, consumer_router, publisher

log = logging.getLogger(__name__)


async def on_raw_games(games: list[RawGame], rt: Runtime) -> None:
    """A batch of box scores: stored, the own players' vectors computed, those that changed
    published (key: player id). Each team box comes once per partition the instance owns."""
    started = time.perf_counter()
    players, teams = split_games(games)
    vectors = await rt.engine.process(players, teams)
    await publish_vectors(rt, vectors)
    report(rt.engine)
    # Messages consumed, copies included: what the topic's offsets count.
    for kind in ("player_game", "team_game"):
        metrics.MESSAGES.labels(topics.GAMES_RAW, kind).inc(sum(g.kind == kind for g in games))
    metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
    if games:
        metrics.PER_MESSAGE_SECONDS.observe((time.perf_counter() - started) / len(games))


async def on_schedule(games: list[GameScheduled], rt: Runtime) -> None:
    """Games on the schedule: the pre-game vectors of the own players of their teams (key:
    player id), those new or changed."""
    vectors = await rt.engine.scheduled(games)
    await publish_vectors(rt, vectors)
    metrics.MESSAGES.labels(topics.SCHEDULE, "scheduled_game").inc(len(games))


async def on_availability(reports: list[AvailabilityReported], rt: Runtime) -> None:
    """Who is out for games: stored (the vectors they change are recomputed and published by
    the idle-time reconcile, on whichever instance owns their players)."""
    await rt.engine.reported(reports)
    report(rt.engine)
    metrics.MESSAGES.labels(topics.AVAILABILITY, "availability").inc(len(reports))


async def reconcile_when_idle(rt: FeaturesRuntime) -> None:
    """The service's work beside its consumer: once idle, catch up with the team boxes other
    instances stored and recompute (and publish) the vectors late team boxes made stale."""

    async def publish(vectors: list[FeaturesComputed]) -> None:
        await publish_vectors(rt, vectors)
        report(rt.engine)

    await rt.engine.reconcile_when_idle(publish, idle_s=rt.settings.reconcile_idle_s)


async def publish_vectors(rt: FeaturesRuntime, vectors: list[FeaturesComputed]) -> None:
    """Packed (contract.vectors): about 3 KB each where their JSON took 8, on the topic three
    services read whole."""
    await publish_many(
        rt.publish_features,
        [(topics.player_key(v.player_id), v) for v in vectors],
        encoding=PACKED,
    )
    metrics.VECTORS.inc(len(vectors))


def report(engine: Engine) -> None:
    """The engine's progress as gauges (after what it computed has been published)."""
    metrics.STALE_SEASONS.set(len(engine.stale))
    metrics.LEAGUE_REVISION.set(engine.revision)
    metrics.OWNED_PARTITIONS.set(len(engine.owned or ()))


class PartitionListener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Passes the group's assignment of the raw topic to the engine (`Engine.assign`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.subscriber: BatchSubscriber | None = None  # its consumer knows the partition count

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        pass  # what was revoked and not assigned again is known on assignment

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        consumer = None if self.subscriber is None else self.subscriber.consumer
        known = consumer.partitions_for_topic(topics.GAMES_RAW) if consumer else None
        if not known:
            log.warning(
                "partition count of %s unknown; assuming %d",
                topics.GAMES_RAW,
                topics.DEFAULT_PARTITIONS,
            )
        self.engine.assign(
            {tp.partition for tp in assigned if tp.topic == topics.GAMES_RAW},
            partitions=len(known) if known else topics.DEFAULT_PARTITIONS,
        )
        metrics.OWNED_PARTITIONS.set(len(self.engine.owned or ()))


@dataclass(frozen=True)
class Channels:
    """The features service's side of Kafka: its subscriber (on `router`) and what it
    publishes."""

    router: KafkaRouter
    features: DefaultPublisher


def channels(settings: FeaturesSettings, *, engine: Engine | None = None) -> Channels:
    """`engine`: the one the rebalance listener tells of the group's assignments (None: the
    channels only described, for the AsyncAPI document)."""
    router = consumer_router()
    features = publisher(
        router,
        topics.FEATURES,
        payload=FeaturesHeader,
        service="features",
        description="A player's pre-game feature vectors (key: player id): one per game played "
        "(kind 'game', with its outcome), one for his team's next game on the schedule (kind "
        "'game', no outcome yet: computed as that game's vector will be once played) and one "
        "for his next game whatever it is (kind 'next', without its context), whenever one "
        f"is new or changed. {LAYOUT}",
    )
    listener = None if engine is None else PartitionListener(engine)
    subscriber = batch_subscriber(
        router,
        topics.GAMES_RAW,
        group_id=settings.group_id,
        payload=RawGame,
        max_records=settings.max_batch,
        listener=listener,
        description="Player and team box scores; each instance of the group computes the "
        "players of its partitions, with the whole league.",
    )
    subscriber(on_raw_games)
    if listener is not None:
        listener.subscriber = subscriber
    batch_subscriber(
        router,
        topics.SCHEDULE,
        group_id=f"{settings.group_id}-schedule",
        per_instance=True,
        payload=GameScheduled,
        description="The schedule, read whole by every instance (a group of its own each): "
        "each computes the pre-game vectors of its own players.",
    )(on_schedule)
    batch_subscriber(
        router,
        topics.AVAILABILITY,
        group_id=f"{settings.group_id}-availability",
        payload=AvailabilityReported,
        description="Who is out for each team's game (key: the game key): stored as league "
        "data by whichever instance reads it; every instance recomputes what it changes for "
        "its own players.",
    )(on_availability)
    return Channels(router, features)


def asyncapi_router() -> KafkaRouter:
    """The channels as declared with default settings, for the AsyncAPI document."""
    return channels(FeaturesSettings.model_construct()).router
