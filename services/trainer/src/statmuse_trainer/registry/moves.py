"""The model registry's alias moves: promote (staging -> production) and rollback (production
-> the version that was production before). Each move is one transaction in `registry`, then
`ModelPublished` events, so the predictor and gateway swap models without a restart."""

import json
import logging
from collections.abc import Awaitable, Callable

import asyncpg
from faststream.kafka import KafkaBroker

from statmuse_shared.contract import ids, topics
from statmuse_shared.contract.messages import ModelMetrics, ModelPublished
from statmuse_shared.platform.legacy import publish_many
from statmuse_trainer.adapters import postgres as db

log = logging.getLogger(__name__)


class RegistryError(ValueError):
    """The move cannot be made (nothing staged, nothing to roll back to)."""


def event_of(row: asyncpg.Record, alias: str) -> ModelPublished:
    return ModelPublished(
        event_id=ids.event_id("alias", row["version"], alias, row["moved"]),
        name=row["name"],
        version=row["version"],
        stat=row["stat"],
        player_id=row["player_id"],
        alias=alias,
        model_type=row["model_type"],
        artifact_uri=row["artifact_uri"],
        checksum=row["checksum"],
        feature_set_version=row["feature_set_version"],
        dataset_version=row["dataset_version"],
        metrics=ModelMetrics.model_validate(json.loads(row["metrics"])),
    )


async def _move(
    conn: asyncpg.Connection, key: str, new_production: str, old_production: str | None
) -> list[ModelPublished]:
    await db.set_alias(conn=conn, key=key, alias="production", version=new_production)
    await conn.execute(
        "DELETE FROM registry.aliases WHERE serving_key = $1 AND alias = 'staging' "
        "AND version = $2",
        key,
        new_production,
    )
    events = [event_of(await db.version_row(conn=conn, version=new_production), "production")]
    if old_production is not None and old_production != new_production:
        await db.set_alias(conn=conn, key=key, alias="archived", version=old_production)
        events.append(event_of(await db.version_row(conn=conn, version=old_production), "archived"))
    return events


async def _first_time(conn: asyncpg.Connection, command_id: str | None) -> bool:
    """Record a command id in the move's own transaction; False when it was carried out."""
    if command_id is None:
        return True
    done = await conn.fetchval(
        "INSERT INTO registry.processed_commands (event_id) VALUES ($1) "
        "ON CONFLICT DO NOTHING RETURNING event_id",
        command_id,
    )
    return done is not None


async def _current(conn: asyncpg.Connection, key: str) -> list[ModelPublished]:
    """The key's production version as an event (re-announced for a repeated command, in
    case the first run stopped between its commit and its publish)."""
    current = await db.alias_version(conn=conn, key=key, alias="production")
    if current is None:
        return []
    return [event_of(await db.version_row(conn=conn, version=current), "production")]


Choose = Callable[[asyncpg.Connection, str | None], Awaitable[str]]


async def _move_once(
    pool: asyncpg.Pool, broker: KafkaBroker, key: str, command_id: str | None, choose: Choose
) -> list[ModelPublished]:
    """One alias move in one transaction: `choose(conn, current production)` names the new
    production version (or raises RegistryError). With a `command_id` recorded in the same
    transaction, a repeated command moves nothing and re-announces production instead, in
    case the first run stopped between its commit and its publish."""
    async with pool.acquire() as conn, conn.transaction():
        if not await _first_time(conn, command_id):
            events = await _current(conn, key)
        else:
            current = await db.alias_version(conn=conn, key=key, alias="production")
            events = await _move(conn, key, await choose(conn, current), current)
    await _publish(broker, key, events)
    return events


async def promote(
    *, pool: asyncpg.Pool, broker: KafkaBroker, key: str, command_id: str | None = None
) -> list[ModelPublished]:
    """The staged version of `key` becomes production; the old production is archived."""

    async def staged(conn: asyncpg.Connection, _: str | None) -> str:
        version = await db.alias_version(conn=conn, key=key, alias="staging")
        if version is None:
            raise RegistryError(f"nothing is staged for {key}")
        return version

    return await _move_once(pool, broker, key, command_id, staged)


async def rollback(
    *, pool: asyncpg.Pool, broker: KafkaBroker, key: str, command_id: str | None = None
) -> list[ModelPublished]:
    """Production goes back to the version that was production before the current one."""

    async def previous(conn: asyncpg.Connection, current: str | None) -> str:
        if current is None:
            raise RegistryError(f"no production model for {key}")
        version = await db.previous_production(conn=conn, key=key, current=current)
        if version is None:
            raise RegistryError(f"{key} has no earlier production version to roll back to")
        return version

    return await _move_once(pool, broker, key, command_id, previous)


async def _publish(broker: KafkaBroker, key: str, events: list[ModelPublished]) -> None:
    await publish_many(broker, [(topics.MODELS_PUBLISHED, key.encode(), e) for e in events])
    log.info("aliases moved for %s: %s", key, [(e.version, e.alias) for e in events])
