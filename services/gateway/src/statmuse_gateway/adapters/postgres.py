"""Schema `gateway` through asyncpg (the gateway's own read models)."""

import datetime as dt
import json
from collections.abc import Sequence

import asyncpg

from statmuse_shared.features import PlayerGame, TeamGame, possessions_of
from statmuse_shared.features.context import Shooting
from statmuse_shared.messages import (
    FeaturesComputed,
    ModelPublished,
    PlayerGameIngested,
    TeamGameIngested,
)
from statmuse_shared.names import normalize_name


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


async def upsert_player_games(
    *, conn: asyncpg.Connection, games: Sequence[PlayerGameIngested]
) -> set[int]:
    """Returns the players whose games are new or changed (their cached context is stale)."""
    rows = await conn.fetch(
        """INSERT INTO gateway.player_games (player_id, game_key, game_date, season, season_type,
               team, opponent, is_home, minutes, points, rebounds, assists, threes, fga, fta,
               tov, event_id)
           SELECT * FROM unnest($1::integer[], $2::text[], $3::date[], $4::text[], $5::text[],
               $6::text[], $7::text[], $8::boolean[], $9::float8[], $10::integer[],
               $11::integer[], $12::integer[], $13::integer[], $14::integer[], $15::integer[],
               $16::integer[], $17::text[])
           ON CONFLICT (player_id, game_key) DO UPDATE SET game_date = EXCLUDED.game_date,
               season = EXCLUDED.season, season_type = EXCLUDED.season_type,
               team = EXCLUDED.team, opponent = EXCLUDED.opponent, is_home = EXCLUDED.is_home,
               minutes = EXCLUDED.minutes, points = EXCLUDED.points,
               rebounds = EXCLUDED.rebounds, assists = EXCLUDED.assists,
               threes = EXCLUDED.threes, fga = EXCLUDED.fga, fta = EXCLUDED.fta,
               tov = EXCLUDED.tov, event_id = EXCLUDED.event_id
           WHERE gateway.player_games.event_id IS DISTINCT FROM EXCLUDED.event_id
           RETURNING player_id""",
        *zip(*[(g.player_id, g.game_key, g.game_date, g.season, g.season_type, g.team,
                g.opponent, g.is_home, g.minutes, g.points, g.rebounds, g.assists, g.fg3m,
                g.fga, g.fta, g.turnovers, g.event_id) for g in games], strict=True),
    )  # fmt: skip
    return {r["player_id"] for r in rows}


async def upsert_team_games(
    *, conn: asyncpg.Connection, games: Sequence[TeamGameIngested]
) -> list[TeamGame]:
    """Store team boxes; returns the complete ones that are new or changed."""
    rows = await conn.fetch(
        """INSERT INTO gateway.team_games (game_key, team, game_date, season, points,
               points_allowed, possessions, minutes, event_id)
           SELECT * FROM unnest($1::text[], $2::text[], $3::date[], $4::text[], $5::integer[],
               $6::integer[], $7::float8[], $8::float8[], $9::text[])
           ON CONFLICT (game_key, team) DO UPDATE SET points = EXCLUDED.points,
               points_allowed = EXCLUDED.points_allowed, possessions = EXCLUDED.possessions,
               minutes = EXCLUDED.minutes, event_id = EXCLUDED.event_id
           WHERE gateway.team_games.event_id IS DISTINCT FROM EXCLUDED.event_id
           RETURNING game_date, season, team, points_allowed, possessions, minutes""",
        *zip(*[(g.game_key, g.team, g.game_date, g.season, g.points, g.opponent_points,
                possessions_of(g),
                g.minutes, g.event_id) for g in games], strict=True),
    )  # fmt: skip
    return [TeamGame(r["game_date"], r["season"], r["team"], r["points_allowed"],
                     r["possessions"], r["minutes"]) for r in rows
            if r["points_allowed"] is not None and r["possessions"] is not None
            and r["minutes"]]  # fmt: skip


async def all_team_games(*, conn: asyncpg.Connection) -> list[TeamGame]:
    rows = await conn.fetch(
        """SELECT game_date, season, team, points_allowed, possessions, minutes
           FROM gateway.team_games WHERE points_allowed IS NOT NULL
             AND possessions IS NOT NULL AND minutes > 0"""
    )
    return [TeamGame(r["game_date"], r["season"], r["team"], r["points_allowed"],
                     r["possessions"], r["minutes"]) for r in rows]  # fmt: skip


async def history(*, conn: asyncpg.Connection, player_id: int) -> list[tuple[PlayerGame, Shooting]]:
    rows = await conn.fetch(
        """SELECT game_date, season, season_type, team, opponent, is_home, minutes, points,
                  rebounds, assists, threes, fga, fta, tov
           FROM gateway.player_games WHERE player_id = $1 ORDER BY game_date""",
        player_id,
    )
    return [(PlayerGame(r["game_date"], r["season"], r["season_type"], r["team"],
                        r["opponent"], r["is_home"], r["minutes"], r["points"], r["rebounds"],
                        r["assists"], r["threes"]),
             Shooting(r["fga"], r["fta"], r["tov"])) for r in rows]  # fmt: skip
