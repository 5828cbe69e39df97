"""Thin subscriber: raw games in, the engine, changed vectors out; and the rebalance listener
that tells the engine which partitions (which players) are its own."""

import logging
import time
from typing import Any

from aiokafka import ConsumerRebalanceListener, TopicPartition
from faststream.kafka import KafkaBroker
from pydantic import TypeAdapter

from statmuse_features import metrics
from statmuse_features.engine import Engine
from statmuse_features.settings import FeaturesSettings
from statmuse_shared.contract import topics
from statmuse_shared.contract.messages import (
    FeaturesComputed,
    PlayerGameIngested,
    RawGame,
    TeamGameIngested,
)
from statmuse_shared.platform.consumers import Record
from statmuse_shared.platform.legacy import publish_many, subscribe

RAW_GAME: TypeAdapter[Any] = TypeAdapter(RawGame)
log = logging.getLogger(__name__)


async def publish_vectors(broker: KafkaBroker, vectors: list[FeaturesComputed]) -> None:
    await publish_many(
        broker, [(topics.FEATURES, topics.player_key(v.player_id), v) for v in vectors]
    )
    metrics.VECTORS.inc(len(vectors))


def report(engine: Engine) -> None:
    """The engine's progress as gauges (after what it computed has been published)."""
    metrics.STALE_SEASONS.set(len(engine.stale))
    metrics.LEAGUE_REVISION.set(engine.revision)
    metrics.OWNED_PARTITIONS.set(len(engine.owned or ()))


class Assignment(ConsumerRebalanceListener):  # type: ignore[misc]
    """Passes the group's assignment of the raw topic to the engine (`Engine.assign`)."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state
        self.subscriber: Any = None

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        pass  # what was revoked and not assigned again is known on assignment

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        consumer = getattr(self.subscriber, "consumer", None)
        known = consumer.partitions_for_topic(topics.GAMES_RAW) if consumer else None
        if not known:
            log.warning(
                "partition count of %s unknown; assuming %d",
                topics.GAMES_RAW,
                topics.DEFAULT_PARTITIONS,
            )
        engine: Engine = self.state["engine"]
        engine.assign(
            {tp.partition for tp in assigned if tp.topic == topics.GAMES_RAW},
            partitions=len(known) if known else topics.DEFAULT_PARTITIONS,
        )
        metrics.OWNED_PARTITIONS.set(len(engine.owned or ()))


def register(broker: KafkaBroker, state: dict[str, Any], *, settings: FeaturesSettings) -> None:
    async def on_raw_games(batch: list[tuple[Record, Any]]) -> None:
        started = time.perf_counter()
        engine: Engine = state["engine"]
        players = [m for _, m in batch if isinstance(m, PlayerGameIngested)]
        teams = [m for _, m in batch if isinstance(m, TeamGameIngested)]
        vectors = await engine.process(players, teams)
        await publish_vectors(broker, vectors)
        report(engine)
        metrics.MESSAGES.labels(topics.GAMES_RAW, "player_game").inc(len(players))
        metrics.MESSAGES.labels(topics.GAMES_RAW, "team_game").inc(len(teams))
        metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
        if batch:
            metrics.PER_MESSAGE_SECONDS.observe((time.perf_counter() - started) / len(batch))

    listener = Assignment(state)
    listener.subscriber = subscribe(
        broker,
        topics.GAMES_RAW,
        group_id=settings.group_id,
        model=RAW_GAME,
        handle=on_raw_games,
        max_records=settings.max_batch,
        listener=listener,
    )
