"""Training examples (`registry.training_examples`) through asyncpg: the `ExampleRepository`."""

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from statmuse_shared.contract.messages import FeaturesComputed
from statmuse_shared.contract.stats import BOX_STATS, Stat
from statmuse_shared.contract.vectors import from_stored, stored_form
from statmuse_shared.features import FEATURE_SET_VERSION, Features
from statmuse_shared.platform.db import Database
from statmuse_trainer.monitoring.performance import PlayedGame
from statmuse_trainer.training.baseline import Example
from statmuse_trainer.training.dataset import Row

# A row's values: packed (`vector`), or the JSON text of a row stored before they were.
VALUES = "vector, CASE WHEN vector IS NULL THEN features::text END AS f"


def values(row: Mapping[str, Any], feature_set_version: str) -> Features:
    """The named features of a row selected with `VALUES`."""
    if row["vector"] is None:
        return from_stored(row["f"])
    if feature_set_version != FEATURE_SET_VERSION:
        raise ValueError(
            f"examples of feature set {feature_set_version} are packed in its order, which "
            f"this code ({FEATURE_SET_VERSION}) does not know: read them with that version"
        )
    return from_stored(row["vector"])


class PostgresExamples:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def upsert(self, vectors: Sequence[FeaturesComputed]) -> int:
        played = [v for v in vectors if v.kind == "game" and v.outcome is not None]
        async with self.db.acquire() as conn:
            await conn.executemany(
                """INSERT INTO registry.training_examples (player_id, as_of, feature_set_version,
                       season, features, vector, last_game, outcome, game_date, event_id,
                       player_name)
                   VALUES ($1, $2, $3, $4, $6::jsonb, $5, $7::jsonb, $8::jsonb, $9, $10, $11)
                   ON CONFLICT (player_id, as_of, feature_set_version) DO UPDATE
                   SET season = EXCLUDED.season, features = EXCLUDED.features,
                       vector = EXCLUDED.vector,
                       player_name = EXCLUDED.player_name,
                       last_game = EXCLUDED.last_game, outcome = EXCLUDED.outcome,
                       game_date = EXCLUDED.game_date, event_id = EXCLUDED.event_id
                   WHERE registry.training_examples.event_id IS DISTINCT FROM EXCLUDED.event_id""",
                [
                    (
                        v.player_id,
                        v.as_of,
                        v.feature_set_version,
                        v.season,
                        *stored_form(v),  # packed, or JSON for any other vector
                        v.last_game.model_dump_json() if v.last_game else None,
                        v.outcome.model_dump_json() if v.outcome else None,
                        v.game.game_date if v.game else None,
                        v.event_id,
                        v.player_name,
                    )
                    for v in played
                ],
            )
        return len(played)

    async def latest_feature_set(self) -> str | None:
        async with self.db.acquire() as conn:
            value: str | None = await conn.fetchval(
                "SELECT feature_set_version FROM registry.training_examples "
                "ORDER BY received_at DESC LIMIT 1"
            )
        return value

    async def labelled(
        self, *, stat: Stat, feature_set_version: str, seasons: Sequence[str]
    ) -> list[Example]:
        label = " + ".join(f"(outcome->>'{part}')::float" for part in stat.parts)
        async with self.db.acquire() as conn:
            rows = await conn.fetch(
                f"""SELECT {VALUES}, {label} AS label
                    FROM registry.training_examples
                    WHERE feature_set_version = $1 AND outcome IS NOT NULL
                      AND (cardinality($2::text[]) = 0 OR season = ANY($2::text[]))""",
                feature_set_version,
                list(seasons),
            )
        return [
            Example(values(r, feature_set_version), r["label"])
            for r in rows
            if r["label"] is not None
        ]

    async def dataset_rows(self, *, feature_set_version: str, seasons: Sequence[str]) -> list[Row]:
        async with self.db.acquire() as conn:
            records = await conn.fetch(
                f"""SELECT player_id, season, game_date, as_of, {VALUES},
                          outcome::text AS o, player_name
                   FROM registry.training_examples
                   WHERE feature_set_version = $1 AND outcome IS NOT NULL
                     AND season = ANY($2::text[])
                   ORDER BY game_date, player_id""",
                feature_set_version,
                list(seasons),
            )
        return [
            Row(
                r["player_id"],
                r["season"],
                r["game_date"],
                r["as_of"],
                values(r, feature_set_version),
                json.loads(r["o"]),
                r["player_name"],
            )
            for r in records
        ]

    async def played_games(self, *, first: dt.date, last: dt.date) -> list[PlayedGame]:
        async with self.db.acquire() as conn:
            records = await conn.fetch(
                """SELECT DISTINCT ON (player_id, game_date) player_id, game_date,
                          outcome::text AS outcome
                   FROM registry.training_examples
                   WHERE outcome IS NOT NULL AND game_date BETWEEN $1 AND $2
                   ORDER BY player_id, game_date, received_at DESC""",
                first,
                last,
            )
        out = []
        for r in records:
            outcome = json.loads(r["outcome"])
            out.append(
                PlayedGame(
                    r["player_id"],
                    r["game_date"],
                    float(outcome.get("minutes") or 0),
                    {k: outcome.get(k) for k in BOX_STATS},
                )
            )
        return out

    async def feature_sample(
        self,
        *,
        feature_set_version: str,
        first: dt.date | None,
        last: dt.date | None,
        seasons: Sequence[str] = (),
        limit: int,
    ) -> list[Features]:
        """Sampled by a hash of the row's key, so the same rows come back every run."""
        async with self.db.acquire() as conn:
            records = await conn.fetch(
                f"""SELECT {VALUES} FROM registry.training_examples
                   WHERE feature_set_version = $1 AND game_date IS NOT NULL
                     AND ($2::date IS NULL OR game_date >= $2)
                     AND ($3::date IS NULL OR game_date <= $3)
                     AND (cardinality($4::text[]) = 0 OR season = ANY($4::text[]))
                   ORDER BY md5(player_id::text || ':' || as_of::text) LIMIT $5""",
                feature_set_version,
                first,
                last,
                list(seasons),
                limit,
            )
        return [values(r, feature_set_version) for r in records]

    async def players_with_games(self, *, after: dt.date, until: dt.date) -> list[int]:
        async with self.db.acquire() as conn:
            records = await conn.fetch(
                """SELECT DISTINCT player_id FROM registry.training_examples
                   WHERE outcome IS NOT NULL AND game_date > $1 AND game_date <= $2
                   ORDER BY player_id""",
                after,
                until,
            )
        return [r["player_id"] for r in records]
