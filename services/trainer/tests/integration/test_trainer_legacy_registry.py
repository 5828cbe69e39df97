"""Upgrading a deployment from the PostgreSQL registry: its tables, with the versions they
served, survive migration 0007 (renamed), and `import-legacy-registry`'s logic registers those
versions in MLflow under their own names and aliases (bundle checked against its checksum and
logged), announces them, and skips them when run again."""

import json
import time

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer

from statmuse_shared.contract import topics
from statmuse_shared.contract.messages import ModelPublished
from statmuse_shared.models.artifacts import LocalArtifactStore
from statmuse_shared.platform.broker import ensure_topics
from statmuse_shared.platform.migrations import apply, discover, migrate
from statmuse_trainer.adapters.legacy_registry import served_versions
from statmuse_trainer.app import build_runtime
from statmuse_trainer.registry.legacy import import_legacy
from statmuse_trainer.settings import TrainerSettings

from .test_trainer_registry import client, version

pytestmark = pytest.mark.integration


async def test_the_versions_served_before_the_upgrade_reach_mlflow(
    database_url, kafka_bootstrap, tmp_path, mlflow_tracking_uri
):
    # The old registry (migrations up to 0006), as the old code filled it.
    conn = await asyncpg.connect(database_url)
    try:
        await apply(conn, [m for m in discover()["registry"] if m.version <= 6])
        store = LocalArtifactStore(tmp_path)
        for name, alias in (
            ("v-old-1", "archived"),
            ("v-old-2", "production"),
            ("v-old-3", "staging"),
        ):
            p = version(store, name, alias, 6.0)
            await conn.execute(
                """INSERT INTO registry.model_versions (version, name, stat, model_type,
                       artifact_uri, checksum, feature_set_version, metrics, metadata)
                   VALUES ($1, $2, 'points', $3, $4, $5, $6, $7::jsonb, $8::jsonb)""",
                p.version, p.name, p.model_type, p.artifact_uri, p.checksum,
                p.feature_set_version, p.metrics.model_dump_json(),
                json.dumps({"chosen": "rolling_mean", "metrics": {"mae": 5.0}}),
            )  # fmt: skip
            await conn.execute(
                "INSERT INTO registry.aliases (serving_key, alias, version) "
                "VALUES ('points', $1, $2)",
                alias, p.version,
            )  # fmt: skip
    finally:
        await conn.close()
    await migrate(database_url, schemas=["registry"])  # 0007 on: the tables are renamed
    await ensure_topics(kafka_bootstrap, topics.all_with_dead_letters())
    settings = TrainerSettings(database_url=database_url, kafka_bootstrap_servers=kafka_bootstrap)
    rt = build_runtime(settings, store=store)
    async with rt.running(consume=False):
        legacy = await served_versions(rt.db)
        assert [(v.published.version, v.published.alias) for v in legacy] == [
            ("v-old-2", "production"),
            ("v-old-3", "staging"),
        ]
        events, skipped = await import_legacy(rt, legacy, requested_by="cli:ops")
        assert skipped == []
        again, skipped = await import_legacy(rt, legacy, requested_by="cli:ops")
        assert (again, skipped) == ([], ["v-old-2", "v-old-3"])
    ml = client(mlflow_tracking_uri)
    aliases = ml.get_registered_model("statmuse-points").aliases
    assert {alias: str(v) for alias, v in aliases.items()} == {"champion": "1", "challenger": "2"}
    champion = ml.get_model_version_by_alias("statmuse-points", "champion")
    assert champion.tags["statmuse.version"] == "v-old-2"
    assert ml.get_run(champion.run_id).data.params["chosen"] == "rolling_mean"
    assert [a.path for a in ml.list_artifacts(champion.run_id, "bundle")]

    consumer = AIOKafkaConsumer(
        topics.MODELS_PUBLISHED, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    seen: list[ModelPublished] = []
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(seen) < 2:
            for records in (await consumer.getmany(timeout_ms=300)).values():
                seen += [ModelPublished.model_validate_json(r.value) for r in records]
    finally:
        await consumer.stop()
    assert [(e.version, e.alias) for e in seen] == [
        ("v-old-2", "production"),
        ("v-old-3", "staging"),
    ]
    assert [(e.version, e.alias) for e in events] == [(e.version, e.alias) for e in seen]
