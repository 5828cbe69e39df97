"""Alias commands from the gateway's admin endpoints, against real PostgreSQL and the broker:
the trainer's subscriber promotes and rolls back (publishing ModelPublished), and a move it
cannot make becomes a dead letter with the reason."""

import base64
import time

import pytest
from aiokafka import AIOKafkaConsumer

from statmuse_shared.contract import topics
from statmuse_shared.contract.messages import DeadLetter, ModelAliasRequested, ModelPublished
from statmuse_shared.models.artifacts import LocalArtifactStore
from statmuse_shared.platform.broker import ensure_topics, publish
from statmuse_shared.platform.migrations import migrate
from statmuse_trainer.app import build_runtime
from statmuse_trainer.settings import TrainerSettings

from .test_trainer_registry import alias_version, version

pytestmark = pytest.mark.integration


async def read_topic(bootstrap: str, topic: str, expected: int) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    found: list[bytes] = []
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(found) < expected:
            batch = await consumer.getmany(timeout_ms=300)
            found += [r.value for records in batch.values() for r in records]
    finally:
        await consumer.stop()
    return found


def command(n: int, action: str) -> ModelAliasRequested:
    return ModelAliasRequested(
        event_id=f"cmd-{n}", action=action, key="points", requested_by="apikey:test"
    )


async def registered(
    database_url: str, kafka_bootstrap: str, store: LocalArtifactStore, unique: str, v2_as: str
) -> TrainerSettings:
    """Migrated, topics made, v1 registered as production and v2 under `v2_as`; the settings
    of a trainer on them."""
    await migrate(database_url, schemas=["registry"])
    await ensure_topics(kafka_bootstrap, topics.all_with_dead_letters())
    settings = TrainerSettings(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap,
        group_id=f"trainer-{unique}",
    )
    rt = build_runtime(settings, store=store)
    async with rt.running(consume=False), rt.registry.transaction() as tx:
        await tx.register(version(store, "v1", "production", 7.0))
        await tx.register(version(store, "v2", v2_as, 6.0))
    return settings


async def test_commands_move_aliases_and_refusals_are_dead_letters(
    database_url, kafka_bootstrap, tmp_path, unique
):
    store = LocalArtifactStore(tmp_path)
    settings = await registered(database_url, kafka_bootstrap, store, unique, "staging")
    async with build_runtime(settings, store=store).running() as rt:
        # Same key, same partition: carried out in this order.
        for n, action in enumerate(["rollback", "promote", "rollback"]):
            await publish(rt.broker, command(n, action), topic=topics.MODEL_COMMANDS, key=b"points")
        events = await read_topic(kafka_bootstrap, topics.MODELS_PUBLISHED, 4)
        refusals = await read_topic(kafka_bootstrap, topics.dead_letter(topics.MODEL_COMMANDS), 1)
        published = [ModelPublished.model_validate_json(v) for v in events]
        letters = [DeadLetter.model_validate_json(v) for v in refusals]
    assert [(e.version, e.alias) for e in published] == [
        ("v2", "production"),
        ("v1", "archived"),  # promote
        ("v1", "production"),
        ("v2", "archived"),  # rollback
    ]
    assert len(letters) == 1
    assert "no earlier production version" in letters[0].error
    assert letters[0].consumer == f"trainer-{unique}-model-commands"
    refused = ModelAliasRequested.model_validate_json(base64.b64decode(letters[0].payload_b64))
    assert (refused.event_id, refused.action) == ("cmd-0", "rollback")
    rt = build_runtime(settings, store=store)
    async with rt.running(consume=False):
        assert await alias_version(rt.registry, "points", "production") == "v1"
        # The audit log names who asked for each move the commands made.
        async with rt.db.acquire() as conn:
            asked = await conn.fetch(
                "SELECT requested_by FROM registry.alias_history WHERE id > 2 ORDER BY id"
            )
    assert [r["requested_by"] for r in asked] == ["apikey:test"] * 4
