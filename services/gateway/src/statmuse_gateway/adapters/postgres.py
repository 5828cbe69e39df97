"""Schema `gateway` through asyncpg (the gateway's own read models)."""

import datetime as dt
import json
from collections.abc import Sequence

import asyncpg

from statmuse_gateway.service import normalize_name
from statmuse_shared.messages import FeaturesComputed, ModelPublished


async def upsert_vectors(*, conn: asyncpg.Connection, vectors: Sequence[FeaturesComputed]) -> None:
    async with conn.transaction():
        await conn.executemany(
            """INSERT INTO gateway.feature_vectors (player_id, as_of, feature_set_version,
                   features, event_id) VALUES ($1, $2, $3, $4::jsonb, $5)
               ON CONFLICT (player_id, as_of) DO UPDATE
               SET feature_set_version = EXCLUDED.feature_set_version,
                   features = EXCLUDED.features, event_id = EXCLUDED.event_id
               WHERE gateway.feature_vectors.event_id IS DISTINCT FROM EXCLUDED.event_id""",
            [
                (v.player_id, v.as_of, v.feature_set_version, json.dumps(v.features), v.event_id)
                for v in vectors
            ],
        )
        await conn.executemany(
            """INSERT INTO gateway.players (player_id, player_name, normalized_name, team,
                   last_as_of) VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (player_id) DO UPDATE SET player_name = EXCLUDED.player_name,
                   normalized_name = EXCLUDED.normalized_name, team = EXCLUDED.team,
                   last_as_of = EXCLUDED.last_as_of
               WHERE gateway.players.last_as_of <= EXCLUDED.last_as_of""",
            [
                (v.player_id, v.player_name, normalize_name(v.player_name), v.team, v.as_of)
                for v in vectors
            ],
        )


async def upsert_model(*, conn: asyncpg.Connection, event: ModelPublished) -> None:
    await conn.execute(
        """INSERT INTO gateway.models (version, serving_key, alias, payload)
           VALUES ($1, $2, $3, $4::jsonb)
           ON CONFLICT (version) DO UPDATE SET alias = EXCLUDED.alias,
               payload = EXCLUDED.payload, updated_at = now()""",
        event.version,
        event.key,
        event.alias,
        event.model_dump_json(),
    )


async def find_players(*, conn: asyncpg.Connection, name: str) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT player_id, player_name, team FROM gateway.players WHERE normalized_name = $1 "
        "ORDER BY last_as_of DESC",
        normalize_name(name),
    )
    return rows


async def all_names(*, conn: asyncpg.Connection) -> list[str]:
    return [r["player_name"] for r in await conn.fetch("SELECT player_name FROM gateway.players")]


async def vector_for(
    *, conn: asyncpg.Connection, player_id: int, game_date: dt.date | None
) -> tuple[dt.date, dict[str, float | None]] | None:
    """The latest vector usable for a game on `game_date` (as_of <= game_date), or the latest."""
    row = await conn.fetchrow(
        """SELECT as_of, features::text AS f FROM gateway.feature_vectors
           WHERE player_id = $1 AND ($2::date IS NULL OR as_of <= $2::date)
           ORDER BY as_of DESC LIMIT 1""",
        player_id,
        game_date,
    )
    return None if row is None else (row["as_of"], json.loads(row["f"]))


async def list_models(*, conn: asyncpg.Connection) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT payload::text AS payload, alias, updated_at FROM gateway.models "
        "ORDER BY serving_key, updated_at DESC"
    )
    return rows
