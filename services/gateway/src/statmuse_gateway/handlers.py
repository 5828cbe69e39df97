"""The gateway's read models: feature vectors and players, box scores for player context,
and the models it serves."""

import asyncio
import uuid
from typing import Any

from faststream.kafka import KafkaBroker
from pydantic import TypeAdapter

from statmuse_gateway import metrics
from statmuse_gateway.adapters import postgres as db
from statmuse_gateway.adapters.cache import prediction_cache
from statmuse_gateway.settings import GatewaySettings
from statmuse_shared.contract import topics
from statmuse_shared.contract.messages import (
    FeaturesComputed,
    ModelPublished,
    PlayerGameIngested,
    RawGame,
    TeamGameIngested,
)
from statmuse_shared.models.serving import ModelBook
from statmuse_shared.platform.consumers import Record
from statmuse_shared.platform.legacy import subscribe

RAW_GAME: TypeAdapter[Any] = TypeAdapter(RawGame)


def register(broker: KafkaBroker, state: dict[str, Any], *, settings: GatewaySettings) -> None:
    book: ModelBook = state["book"]
    # The routes read their settings (cache TTL, batch limits) from the shared state.
    state.setdefault("settings", settings)
    ttl_s = settings.prediction_cache_seconds

    async def on_features(batch: list[tuple[Record, FeaturesComputed]]) -> None:
        async with state["pool"].acquire() as conn:
            await db.upsert_vectors(conn=conn, vectors=[m for _, m in batch])
        # A new vector changes these players' predictions: drop exactly theirs.
        await prediction_cache(state, ttl_s=ttl_s).invalidate_players(m.player_id for _, m in batch)
        metrics.VECTORS.inc(len(batch))

    async def on_model_published(batch: list[tuple[Record, ModelPublished]]) -> None:
        for _, event in batch:
            await asyncio.to_thread(book.apply, event)  # reads the artifact file
            async with state["pool"].acquire() as conn:
                await db.upsert_model(conn=conn, event=event)
        # After the book swapped: a prediction cached from now on is the new model's. Keys also
        # carry the model version, so a missed drop (Redis down) still serves no stale model.
        await prediction_cache(state, ttl_s=ttl_s).invalidate_all()
        metrics.MODELS_SERVED.set(len(book.production))

    async def on_raw_games(batch: list[tuple[Record, Any]]) -> None:
        players = [m for _, m in batch if isinstance(m, PlayerGameIngested)]
        teams = [m for _, m in batch if isinstance(m, TeamGameIngested)]
        async with state["pool"].acquire() as conn, conn.transaction():
            touched = await db.upsert_player_games(conn=conn, games=players) if players else set()
            team_games = await db.upsert_team_games(conn=conn, games=teams) if teams else []
        for game in team_games:
            state["league"].add(game)
        # Exactly the players these games touch lose their cached context.
        await state["context_cache"].invalidate(touched)
        metrics.GAMES.inc(len(batch))

    subscribe(
        broker,
        topics.GAMES_RAW,
        group_id=f"{settings.group_id}-games",
        model=RAW_GAME,
        handle=on_raw_games,
    )
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
