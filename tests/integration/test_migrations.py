"""Migrations against real PostgreSQL: every schema, safe to run twice, edits refused."""

import asyncpg
import pytest

from statmuse_shared.platform.migrations import Migration, MigrationError, apply, discover, migrate

pytestmark = pytest.mark.integration

SCHEMAS = {"ingest", "features", "registry", "predictions", "gateway"}


async def test_every_service_schema_is_registered():
    assert set(discover()) == SCHEMAS


async def test_migrate_twice_applies_once(database_url):
    first = await migrate(database_url)
    assert {m.schema for m in first} == SCHEMAS
    second = await migrate(database_url)
    assert second == []
    conn = await asyncpg.connect(database_url)
    try:
        tables = {
            (r["table_schema"], r["table_name"])
            for r in await conn.fetch(
                "SELECT table_schema, table_name FROM information_schema.tables "
                "WHERE table_schema = ANY($1::text[])",
                list(SCHEMAS),
            )
        }
        recorded = await conn.fetchval("SELECT count(*) FROM ingest.schema_migrations")
    finally:
        await conn.close()
    assert ("ingest", "player_game_stats") in tables
    assert ("registry", "alias_history") in tables
    assert ("registry", "model_versions") not in tables  # in MLflow since 0007
    assert ("gateway", "feature_vectors") in tables
    assert recorded == len([m for m in first if m.schema == "ingest"])


async def test_an_edited_applied_migration_is_refused(database_url):
    original = Migration("scratch", 1, "create", "CREATE TABLE t (id int)")
    conn = await asyncpg.connect(database_url)
    try:
        assert await apply(conn, [original]) == [original]
        edited = Migration("scratch", 1, "create", "CREATE TABLE t (id bigint)")
        with pytest.raises(MigrationError, match="edited"):
            await apply(conn, [edited])
        # A failing migration rolls back alone and is not recorded.
        broken = Migration("scratch", 2, "broken", "CREATE TABLE u (id int); SELECT 1/0")
        with pytest.raises(asyncpg.DivisionByZeroError):
            await apply(conn, [original, broken])
        assert await conn.fetchval("SELECT to_regclass('scratch.u')") is None
        assert await conn.fetchval("SELECT max(version) FROM scratch.schema_migrations") == 1
    finally:
        await conn.close()
