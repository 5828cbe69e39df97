"""Thin subscriber: raw games in, pure feature logic, store, publish."""

import asyncio
import time
from typing import Any

import asyncpg
from faststream.kafka import KafkaBroker
from pydantic import TypeAdapter

from statmuse_features import metrics
from statmuse_features.adapters import postgres as db
from statmuse_features.service import GameRow, vectors_from
from statmuse_features.settings import FeaturesSettings
from statmuse_shared import topics
from statmuse_shared.broker import Record, publish_many, subscribe
from statmuse_shared.messages import FeaturesComputed, PlayerGameIngested, RawGame

RAW_GAME: TypeAdapter[Any] = TypeAdapter(RawGame)


async def process_games(
    *, pool: asyncpg.Pool, games: list[PlayerGameIngested]
) -> list[FeaturesComputed]:
    """Store the games, then recompute every vector from each player's earliest new game on
    (so a late or corrected game also fixes the vectors after it)."""
    if not games:
        return []
    earliest: dict[int, Any] = {}
    for g in games:
        earliest[g.player_id] = min(earliest.get(g.player_id, g.game_date), g.game_date)
    async with pool.acquire() as conn, conn.transaction():
        await db.upsert_games(conn=conn, games=games)
        history = await db.histories(conn=conn, player_ids=list(earliest))
    vectors = await asyncio.to_thread(_compute, history, earliest)
    async with pool.acquire() as conn, conn.transaction():
        await db.upsert_vectors(conn=conn, vectors=vectors)
    return vectors


def _compute(history: dict[int, list[GameRow]], earliest: dict[int, Any]) -> list[FeaturesComputed]:
    vectors: list[FeaturesComputed] = []
    for player_id, rows in history.items():
        start = next(i for i, r in enumerate(rows) if r.game_date >= earliest[player_id])
        vectors.extend(vectors_from(player_id=player_id, history=rows, start=start))
    return vectors


def register(broker: KafkaBroker, state: dict[str, Any], *, settings: FeaturesSettings) -> None:
    async def on_raw_games(batch: list[tuple[Record, Any]]) -> None:
        started = time.perf_counter()
        players = [m for _, m in batch if isinstance(m, PlayerGameIngested)]
        vectors = await process_games(pool=state["pool"], games=players)
        await publish_many(
            broker, [(topics.FEATURES, topics.player_key(v.player_id), v) for v in vectors]
        )
        metrics.MESSAGES.labels(topics.GAMES_RAW, "processed").inc(len(players))
        metrics.MESSAGES.labels(topics.GAMES_RAW, "team_game_ignored").inc(
            len(batch) - len(players)
        )
        metrics.VECTORS.inc(len(vectors))
        metrics.BATCH_SECONDS.observe(time.perf_counter() - started)

    subscribe(
        broker,
        topics.GAMES_RAW,
        group_id=settings.group_id,
        model=RAW_GAME,
        handle=on_raw_games,
        max_records=settings.max_batch,
    )
