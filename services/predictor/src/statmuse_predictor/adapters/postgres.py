"""Schema `predictions` through asyncpg: the `PredictionRepository` of the service."""

import json
from collections.abc import Sequence

from statmuse_predictor.ports import Latest
from statmuse_shared.contract.messages import FeaturesComputed, PredictionMade
from statmuse_shared.platform.db import Database


class PostgresPredictions:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def keep_latest(self, vectors: Sequence[FeaturesComputed]) -> None:
        if not vectors:
            return
        async with self.db.acquire() as conn:
            await conn.executemany(
                """INSERT INTO predictions.latest_features (player_id, player_name, as_of,
                       feature_set_version, features, game_date)
                   VALUES ($1, $2, $3, $4, $5::jsonb, $6)
                   ON CONFLICT (player_id) DO UPDATE SET player_name = EXCLUDED.player_name,
                       as_of = EXCLUDED.as_of, feature_set_version = EXCLUDED.feature_set_version,
                       features = EXCLUDED.features, game_date = EXCLUDED.game_date,
                       updated_at = now()
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

    async def latest(self) -> list[Latest]:
        async with self.db.acquire() as conn:
            rows = await conn.fetch(
                "SELECT player_id, player_name, as_of, game_date, features::text AS f "
                "FROM predictions.latest_features"
            )
        return [
            Latest(r["player_id"], r["player_name"], r["as_of"], r["game_date"], json.loads(r["f"]))
            for r in rows
        ]

    async def store(self, made: Sequence[PredictionMade]) -> None:
        if not made:
            return
        async with self.db.acquire() as conn:
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
