"""A small, tested migration runner: versioned SQL files per service schema.

Each service ships ``migrations/NNNN_description.sql`` in its package and registers it under
the ``statmuse.migrations`` entry-point group as ``<schema> = <package>``. The runner applies
the files in order, each in its own transaction, records them in ``<schema>.schema_migrations``
with a checksum, and refuses to run when an applied file was edited. A PostgreSQL advisory lock
makes two concurrent runs safe. Running it twice applies nothing the second time.

Why not Alembic or yoyo: both want SQLAlchemy or a sync DB-API driver; our services speak
asyncpg and plain SQL, and this runner is about a hundred lines.
"""

import hashlib
import importlib.metadata
import importlib.resources
import re
from dataclasses import dataclass
from importlib.resources.abc import Traversable

import asyncpg

ENTRY_POINT_GROUP = "statmuse.migrations"
_FILE = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")
_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]*$")
_LOCK_KEY = 0x5747_6D75  # arbitrary constant, shared by every migrate run


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Migration:
    schema: str
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_directory(schema: str, directory: Traversable) -> list[Migration]:
    if not _SCHEMA.match(schema):
        raise MigrationError(f"invalid schema name {schema!r}")
    found: list[Migration] = []
    for entry in directory.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _FILE.match(entry.name)
        if match is None:
            raise MigrationError(f"{entry.name}: migration files are named NNNN_description.sql")
        found.append(
            Migration(schema, int(match["version"]), match["name"], entry.read_text("utf-8"))
        )
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"schema {schema}: duplicate migration versions {versions}")
    return found


def discover() -> dict[str, list[Migration]]:
    """Every installed service's migrations, by schema, from the entry-point group."""
    plans: dict[str, list[Migration]] = {}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        plans[ep.name] = load_directory(ep.name, importlib.resources.files(ep.value) / "migrations")
    return dict(sorted(plans.items()))


async def apply(conn: asyncpg.Connection, migrations: list[Migration]) -> list[Migration]:
    """Apply what is not applied yet; returns what was applied now."""
    applied_now: list[Migration] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        for schema in sorted({m.schema for m in migrations}):
            # The identifier is checked against _SCHEMA above, never user input.
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            await conn.execute(
                f"""CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
                        version integer PRIMARY KEY,
                        name text NOT NULL,
                        checksum text NOT NULL,
                        applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            rows = await conn.fetch(f"SELECT version, checksum FROM {schema}.schema_migrations")
            done = {r["version"]: r["checksum"] for r in rows}
            for m in (m for m in migrations if m.schema == schema):
                if m.version in done:
                    if done[m.version] != m.checksum:
                        raise MigrationError(
                            f"{schema} {m.version:04d}_{m.name}: applied file was edited; "
                            "write a new migration instead"
                        )
                    continue
                async with conn.transaction():
                    await conn.execute(f"SET LOCAL search_path TO {schema}, public")
                    await conn.execute(m.sql)
                    await conn.execute(
                        f"INSERT INTO {schema}.schema_migrations (version, name, checksum) "
                        "VALUES ($1, $2, $3)",
                        m.version,
                        m.name,
                        m.checksum,
                    )
                applied_now.append(m)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    return applied_now


async def migrate(dsn: str, *, schemas: list[str] | None = None) -> list[Migration]:
    plans = discover()
    if schemas is not None:
        unknown = set(schemas) - plans.keys()
        if unknown:
            raise MigrationError(f"no migrations registered for {sorted(unknown)}")
        plans = {s: plans[s] for s in schemas}
    conn = await asyncpg.connect(dsn)
    try:
        return await apply(conn, [m for ms in plans.values() for m in ms])
    finally:
        await conn.close()
