"""Schema `features` through asyncpg; every write is an upsert on its natural key."""

import json
from collections.abc import Sequence

import asyncpg

from statmuse_features.service import GameRow
from statmuse_shared.messages import FeaturesComputed, PlayerGameIngested


async def upsert_games(*, conn: asyncpg.Connection, games: Sequence[PlayerGameIngested]) -> None:
    await conn.executemany(
        """INSERT INTO features.player_games (player_id, game_key, game_date, season, team,
               player_name, minutes, points, rebounds, assists, threes, event_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
           ON CONFLICT (player_id, game_key) DO UPDATE SET game_date = EXCLUDED.game_date,
               season = EXCLUDED.season, team = EXCLUDED.team,
               player_name = EXCLUDED.player_name, minutes = EXCLUDED.minutes,
               points = EXCLUDED.points, rebounds = EXCLUDED.rebounds,
               assists = EXCLUDED.assists, threes = EXCLUDED.threes, event_id = EXCLUDED.event_id
           WHERE features.player_games.event_id IS DISTINCT FROM EXCLUDED.event_id""",
        [
            (
                g.player_id,
                g.game_key,
                g.game_date,
                g.season,
                g.team,
                g.player_name,
                g.minutes,
                g.points,
                g.rebounds,
                g.assists,
                g.fg3m,
                g.event_id,
            )
            for g in games
        ],
    )


async def histories(
    *, conn: asyncpg.Connection, player_ids: Sequence[int]
) -> dict[int, list[GameRow]]:
    rows = await conn.fetch(
        """SELECT player_id, game_date, game_key, season, team, player_name, minutes, points,
                  rebounds, assists, threes
           FROM features.player_games WHERE player_id = ANY($1::integer[])
           ORDER BY player_id, game_date, game_key""",
        list(player_ids),
    )
    out: dict[int, list[GameRow]] = {}
    for r in rows:
        out.setdefault(r["player_id"], []).append(
            GameRow(
                r["game_date"],
                r["game_key"],
                r["season"],
                r["team"],
                r["player_name"],
                r["minutes"],
                r["points"],
                r["rebounds"],
                r["assists"],
                r["threes"],
            )
        )
    return out


async def upsert_vectors(*, conn: asyncpg.Connection, vectors: Sequence[FeaturesComputed]) -> None:
    await conn.executemany(
        """INSERT INTO features.feature_vectors (player_id, as_of, feature_set_version, season,
               features, event_id)
           VALUES ($1, $2, $3, $4, $5::jsonb, $6)
           ON CONFLICT (player_id, as_of, feature_set_version) DO UPDATE
           SET season = EXCLUDED.season, features = EXCLUDED.features,
               event_id = EXCLUDED.event_id, computed_at = now()
           WHERE features.feature_vectors.event_id IS DISTINCT FROM EXCLUDED.event_id""",
        [
            (
                v.player_id,
                v.as_of,
                v.feature_set_version,
                v.season,
                json.dumps(v.features),
                v.event_id,
            )
            for v in vectors
        ],
    )
