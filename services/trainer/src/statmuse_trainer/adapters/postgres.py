"""Schema `registry` through asyncpg."""

import json
from collections.abc import Sequence
from typing import Any

import asyncpg

from statmuse_shared.messages import FeaturesComputed, ModelPublished
from statmuse_shared.stats import Stat
from statmuse_trainer.dataset import Row
from statmuse_trainer.service import Example


async def upsert_examples(*, conn: asyncpg.Connection, vectors: Sequence[FeaturesComputed]) -> int:
    """Store the vectors of played games (they carry their outcome); returns how many."""
    played = [v for v in vectors if v.kind == "game" and v.outcome is not None]
    await conn.executemany(
        """INSERT INTO registry.training_examples (player_id, as_of, feature_set_version,
               season, features, last_game, outcome, game_date, event_id, player_name)
           VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7::jsonb, $8, $9, $10)
           ON CONFLICT (player_id, as_of, feature_set_version) DO UPDATE
           SET season = EXCLUDED.season, features = EXCLUDED.features,
               player_name = EXCLUDED.player_name,
               last_game = EXCLUDED.last_game, outcome = EXCLUDED.outcome,
               game_date = EXCLUDED.game_date, event_id = EXCLUDED.event_id
           WHERE registry.training_examples.event_id IS DISTINCT FROM EXCLUDED.event_id""",
        [(v.player_id, v.as_of, v.feature_set_version, v.season, json.dumps(v.features),
          v.last_game.model_dump_json() if v.last_game else None,
          v.outcome.model_dump_json() if v.outcome else None,
          v.game.game_date if v.game else None, v.event_id, v.player_name) for v in played],
    )  # fmt: skip
    return len(played)


async def labelled_examples(
    *, conn: asyncpg.Connection, stat: Stat, feature_set_version: str, seasons: Sequence[str]
) -> list[Example]:
    """Game vectors with the stat's actual value in that game as the label."""
    label = (
        "(outcome->>'points')::float + (outcome->>'rebounds')::float + (outcome->>'assists')::float"
        if stat is Stat.PRA
        else f"(outcome->>'{stat.value}')::float"
    )
    rows = await conn.fetch(
        f"""SELECT features::text AS features, {label} AS label
            FROM registry.training_examples
            WHERE feature_set_version = $1 AND outcome IS NOT NULL
              AND (cardinality($2::text[]) = 0 OR season = ANY($2::text[]))""",
        feature_set_version,
        list(seasons),
    )
    return [Example(json.loads(r["features"]), r["label"]) for r in rows if r["label"] is not None]


async def latest_feature_set(*, conn: asyncpg.Connection) -> str | None:
    value: str | None = await conn.fetchval(
        "SELECT feature_set_version FROM registry.training_examples "
        "ORDER BY received_at DESC LIMIT 1"
    )
    return value


async def next_version(*, conn: asyncpg.Connection, base: str) -> str:
    taken = await conn.fetchval(
        "SELECT count(*) FROM registry.model_versions WHERE version = $1 OR version LIKE $2",
        base,
        f"{base}-r%",
    )
    return base if taken == 0 else f"{base}-r{taken + 1}"


async def register(
    *, conn: asyncpg.Connection, published: ModelPublished, metadata: dict[str, Any] | None = None
) -> None:
    async with conn.transaction():
        await conn.execute(
            """INSERT INTO registry.model_versions (version, name, stat, player_id, model_type,
                   artifact_uri, checksum, feature_set_version, dataset_version, metrics,
                   metadata)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11::jsonb)""",
            published.version,
            published.name,
            published.stat.value,
            published.player_id,
            published.model_type,
            published.artifact_uri,
            published.checksum,
            published.feature_set_version,
            published.dataset_version,
            published.metrics.model_dump_json(),
            json.dumps(metadata or {}),
        )
        await set_alias(
            conn=conn, key=published.key, alias=published.alias, version=published.version
        )


async def set_alias(*, conn: asyncpg.Connection, key: str, alias: str, version: str) -> None:
    await conn.execute(
        """INSERT INTO registry.aliases (serving_key, alias, version) VALUES ($1, $2, $3)
           ON CONFLICT (serving_key, alias) DO UPDATE
           SET version = EXCLUDED.version, updated_at = now()""",
        key,
        alias,
        version,
    )
    await conn.execute(
        "INSERT INTO registry.alias_history (serving_key, alias, version) VALUES ($1, $2, $3)",
        key,
        alias,
        version,
    )


async def dataset_rows(
    *, conn: asyncpg.Connection, feature_set_version: str, seasons: Sequence[str]
) -> list[Row]:
    """Every stored game vector with its outcome, for some seasons."""
    records = await conn.fetch(
        """SELECT player_id, season, game_date, as_of, features::text AS f, outcome::text AS o,
                  player_name
           FROM registry.training_examples
           WHERE feature_set_version = $1 AND outcome IS NOT NULL AND season = ANY($2::text[])
           ORDER BY game_date, player_id""",
        feature_set_version,
        list(seasons),
    )
    return [Row(r["player_id"], r["season"], r["game_date"], r["as_of"], json.loads(r["f"]),
                json.loads(r["o"]), r["player_name"]) for r in records]  # fmt: skip


async def alias_version(*, conn: asyncpg.Connection, key: str, alias: str) -> str | None:
    value: str | None = await conn.fetchval(
        "SELECT version FROM registry.aliases WHERE serving_key = $1 AND alias = $2", key, alias
    )
    return value


async def previous_production(*, conn: asyncpg.Connection, key: str, current: str) -> str | None:
    """The latest version, other than `current`, that was production for `key`."""
    value: str | None = await conn.fetchval(
        """SELECT version FROM registry.alias_history
           WHERE serving_key = $1 AND alias = 'production' AND version <> $2
           ORDER BY id DESC LIMIT 1""",
        key, current,
    )  # fmt: skip
    return value


async def version_row(*, conn: asyncpg.Connection, version: str) -> asyncpg.Record:
    row = await conn.fetchrow(
        """SELECT version, name, stat, player_id, model_type, artifact_uri, checksum,
                  feature_set_version, dataset_version, metrics::text AS metrics,
                  (SELECT max(id) FROM registry.alias_history WHERE version = $1) AS moved
           FROM registry.model_versions WHERE version = $1""",
        version,
    )
    if row is None:
        raise LookupError(f"no model version {version}")
    return row
