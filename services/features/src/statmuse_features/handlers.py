"""Thin subscriber: raw games in, the engine, changed vectors out."""

import time
from typing import Any

from faststream.kafka import KafkaBroker
from pydantic import TypeAdapter

from statmuse_features import metrics
from statmuse_features.engine import Engine
from statmuse_features.settings import FeaturesSettings
from statmuse_shared import topics
from statmuse_shared.broker import Record, publish_many, subscribe
from statmuse_shared.messages import FeaturesComputed, PlayerGameIngested, RawGame, TeamGameIngested

RAW_GAME: TypeAdapter[Any] = TypeAdapter(RawGame)


async def publish_vectors(broker: KafkaBroker, vectors: list[FeaturesComputed]) -> None:
    await publish_many(
        broker, [(topics.FEATURES, topics.player_key(v.player_id), v) for v in vectors]
    )
    metrics.VECTORS.inc(len(vectors))


def register(broker: KafkaBroker, state: dict[str, Any], *, settings: FeaturesSettings) -> None:
    async def on_raw_games(batch: list[tuple[Record, Any]]) -> None:
        started = time.perf_counter()
        engine: Engine = state["engine"]
        players = [m for _, m in batch if isinstance(m, PlayerGameIngested)]
        teams = [m for _, m in batch if isinstance(m, TeamGameIngested)]
        vectors = await engine.process(players, teams)
        await publish_vectors(broker, vectors)
        metrics.STALE_SEASONS.set(len(engine.stale))
        metrics.MESSAGES.labels(topics.GAMES_RAW, "player_game").inc(len(players))
        metrics.MESSAGES.labels(topics.GAMES_RAW, "team_game").inc(len(teams))
        metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
        if batch:
            metrics.PER_MESSAGE_SECONDS.observe((time.perf_counter() - started) / len(batch))

    subscribe(broker, topics.GAMES_RAW, group_id=settings.group_id, model=RAW_GAME,
              handle=on_raw_games, max_records=settings.max_batch)  # fmt: skip
