"""The model registry (`registry.model_versions`, `aliases`, `alias_history`,
`processed_commands`) through asyncpg: the `RegistryRepository` and its sessions."""

import datetime as dt
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from statmuse_shared.contract.messages import ModelMetrics, ModelPublished
from statmuse_shared.contract.stats import Stat
from statmuse_shared.platform.db import Database
from statmuse_trainer.ports import VersionRow


class PostgresRegistry:
    def __init__(self, db: Database) -> None:
        self.db = db

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator["PostgresRegistrySession"]:
        async with self.db.acquire() as conn, conn.transaction():
            yield PostgresRegistrySession(conn)

    async def trained_on(self, stat: Stat, day: dt.date) -> str | None:
        async with self.db.acquire() as conn:
            value: str | None = await conn.fetchval(
                """SELECT version FROM registry.model_versions
                   WHERE stat = $1 AND model_type = 'count_model' AND version LIKE $2
                   ORDER BY trained_at DESC LIMIT 1""",
                stat.value,
                f"v{day.isoformat()}-%",
            )
        return value

    async def production_training_windows(self) -> list[dict[str, Any]]:
        async with self.db.acquire() as conn:
            records = await conn.fetch(
                """SELECT m.metadata->'training_window' AS w FROM registry.aliases a
                   JOIN registry.model_versions m ON m.version = a.version
                   WHERE a.alias = 'production' AND a.serving_key = m.stat
                     AND m.metadata ? 'training_window'"""
            )
        return [json.loads(r["w"]) for r in records if r["w"] is not None]


class PostgresRegistrySession:
    """The registry on one connection inside a transaction."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def record_command(self, command_id: str) -> bool:
        done = await self.conn.fetchval(
            "INSERT INTO registry.processed_commands (event_id) VALUES ($1) "
            "ON CONFLICT DO NOTHING RETURNING event_id",
            command_id,
        )
        return done is not None

    async def alias_version(self, key: str, alias: str) -> str | None:
        value: str | None = await self.conn.fetchval(
            "SELECT version FROM registry.aliases WHERE serving_key = $1 AND alias = $2",
            key,
            alias,
        )
        return value

    async def previous_production(self, key: str, current: str) -> str | None:
        value: str | None = await self.conn.fetchval(
            """SELECT version FROM registry.alias_history
               WHERE serving_key = $1 AND alias = 'production' AND version <> $2
               ORDER BY id DESC LIMIT 1""",
            key,
            current,
        )
        return value

    async def set_alias(self, key: str, alias: str, version: str) -> None:
        await self.conn.execute(
            """INSERT INTO registry.aliases (serving_key, alias, version) VALUES ($1, $2, $3)
               ON CONFLICT (serving_key, alias) DO UPDATE
               SET version = EXCLUDED.version, updated_at = now()""",
            key,
            alias,
            version,
        )
        await self.conn.execute(
            "INSERT INTO registry.alias_history (serving_key, alias, version) VALUES ($1, $2, $3)",
            key,
            alias,
            version,
        )

    async def drop_staging(self, key: str, version: str) -> None:
        await self.conn.execute(
            "DELETE FROM registry.aliases WHERE serving_key = $1 AND alias = 'staging' "
            "AND version = $2",
            key,
            version,
        )

    async def version(self, version: str) -> VersionRow:
        row = await self.conn.fetchrow(
            """SELECT version, name, stat, player_id, model_type, artifact_uri, checksum,
                      feature_set_version, dataset_version, metrics::text AS metrics,
                      (SELECT max(id) FROM registry.alias_history WHERE version = $1) AS moved
               FROM registry.model_versions WHERE version = $1""",
            version,
        )
        if row is None:
            raise LookupError(f"no model version {version}")
        return VersionRow(
            version=row["version"],
            name=row["name"],
            stat=Stat(row["stat"]),
            player_id=row["player_id"],
            model_type=row["model_type"],
            artifact_uri=row["artifact_uri"],
            checksum=row["checksum"],
            feature_set_version=row["feature_set_version"],
            dataset_version=row["dataset_version"],
            metrics=ModelMetrics.model_validate(json.loads(row["metrics"])),
            moved=row["moved"],
        )

    async def next_version(self, base: str) -> str:
        taken = await self.conn.fetchval(
            "SELECT count(*) FROM registry.model_versions WHERE version = $1 OR version LIKE $2",
            base,
            f"{base}-r%",
        )
        return base if taken == 0 else f"{base}-r{taken + 1}"

    async def register(
        self, published: ModelPublished, metadata: Mapping[str, Any] | None = None
    ) -> None:
        async with self.conn.transaction():
            await self.conn.execute(
                """INSERT INTO registry.model_versions (version, name, stat, player_id,
                       model_type, artifact_uri, checksum, feature_set_version,
                       dataset_version, metrics, metadata)
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
            await self.set_alias(published.key, published.alias, published.version)
