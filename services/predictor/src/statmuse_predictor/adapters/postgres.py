"""Schema `predictions` through asyncpg."""

import datetime as dt
import json
from collections.abc import Sequence
from typing import NamedTuple

import asyncpg

from statmuse_shared.contract.messages import FeaturesComputed, PredictionMade


class Latest(NamedTuple):
    """A player's latest next-game vector, as re-predicted when a model changes."""

    player_id: int
    player_name: str
    as_of: dt.date
    game_date: dt.date | None
    features: dict[str, float | None]


async def upsert_latest(*, conn: asyncpg.Connection, vectors: Sequence[FeaturesComputed]) -> None:
    if not vectors:
        return
    await conn.executemany(
        """INSERT INTO predictions.latest_features (player_id, player_name, as_of,
               feature_set_version, features, game_date)
           VALUES ($1, $2, $3, $4, $5::jsonb, $6)
           ON CONFLICT (player_id) DO UPDATE SET player_name = EXCLUDED.player_name,
               as_of = EXCLUDED.as_of, feature_set_version = EXCLUDED.feature_set_version,
               features = EXCLUDED.features, game_date = EXCLUDED.game_date, updated_at = now()
           WHERE predictions.latest_features.as_of <= EXCLUDED.as_of""",
        [
            (
                v.player_id,
                v.player_name,
                v.as_of,
                v.feature_set_version,
                json.dumps(v.features),
                v.game.game_date if v.game is not None else None,
            )
            for v in vectors
        ],
    )


async def latest_all(*, conn: asyncpg.Connection) -> list[Latest]:
    rows = await conn.fetch(
        "SELECT player_id, player_name, as_of, game_date, features::text AS f "
        "FROM predictions.latest_features"
    )
    return [
        Latest(r["player_id"], r["player_name"], r["as_of"], r["game_date"], json.loads(r["f"]))
        for r in rows
    ]


async def store_predictions(*, conn: asyncpg.Connection, made: Sequence[PredictionMade]) -> None:
    await conn.executemany(
        """INSERT INTO predictions.predictions (player_id, stat, as_of, model_version,
               predicted_value, payload, event_id)
           VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)
           ON CONFLICT (player_id, stat, as_of, model_version) DO NOTHING""",
        [
            (
                p.player_id,
                p.stat.value,
                p.as_of,
                p.model_version,
                p.predicted_value,
                p.model_dump_json(),
                p.event_id,
            )
            for p in made
        ],
    )
