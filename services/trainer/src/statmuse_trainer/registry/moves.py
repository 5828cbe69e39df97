"""The model registry's alias moves: promote (staging -> production) and rollback (production
-> the version that was production before). Each move is one transaction in the registry,
then `ModelPublished` events, so the predictor and gateway swap models without a restart."""

import logging
from collections.abc import Awaitable, Callable

from statmuse_shared.contract import ids
from statmuse_shared.contract.messages import ModelPublished
from statmuse_shared.platform.broker import publish_many
from statmuse_trainer.ports import RegistrySession, VersionRow
from statmuse_trainer.runtime import TrainerRuntime

log = logging.getLogger(__name__)


class RegistryError(ValueError):
    """The move cannot be made (nothing staged, nothing to roll back to)."""


def event_of(row: VersionRow, alias: str) -> ModelPublished:
    """A version announced under `alias`; the event id names the move (the version's latest
    alias-history entry), so a move announced again keeps its id."""
    return ModelPublished(
        event_id=ids.event_id("alias", row.version, alias, row.moved),
        name=row.name,
        version=row.version,
        stat=row.stat,
        player_id=row.player_id,
        alias=alias,
        model_type=row.model_type,
        artifact_uri=row.artifact_uri,
        checksum=row.checksum,
        feature_set_version=row.feature_set_version,
        dataset_version=row.dataset_version,
        metrics=row.metrics,
        tracking=row.tracking,
    )


async def _move(
    tx: RegistrySession,
    key: str,
    new_production: str,
    old_production: str | None,
    requested_by: str | None,
) -> list[ModelPublished]:
    await tx.set_alias(key, "production", new_production, requested_by=requested_by)
    await tx.drop_staging(key, new_production)
    events = [event_of(await tx.version(new_production), "production")]
    if old_production is not None and old_production != new_production:
        await tx.set_alias(key, "archived", old_production, requested_by=requested_by)
        events.append(event_of(await tx.version(old_production), "archived"))
    return events


async def _current(tx: RegistrySession, key: str) -> list[ModelPublished]:
    """The key's production version as an event (re-announced for a repeated command, in
    case the first run stopped between its commit and its publish)."""
    current = await tx.alias_version(key, "production")
    if current is None:
        return []
    return [event_of(await tx.version(current), "production")]


Choose = Callable[[RegistrySession, str | None], Awaitable[str]]


async def _move_once(
    rt: TrainerRuntime,
    key: str,
    command_id: str | None,
    choose: Choose,
    requested_by: str | None,
) -> list[ModelPublished]:
    """One alias move in one transaction: `choose(tx, current production)` names the new
    production version (or raises RegistryError). With a `command_id` recorded in the same
    transaction, a repeated command moves nothing and re-announces production instead, in
    case the first run stopped between its commit and its publish."""
    async with rt.registry.transaction() as tx:
        if command_id is not None and not await tx.record_command(command_id):
            events = await _current(tx, key)
        else:
            current = await tx.alias_version(key, "production")
            events = await _move(tx, key, await choose(tx, current), current, requested_by)
    await publish_many(rt.publish_models, [(key.encode(), e) for e in events])
    log.info("aliases moved for %s: %s", key, [(e.version, e.alias) for e in events])
    return events


async def promote(
    rt: TrainerRuntime,
    key: str,
    *,
    command_id: str | None = None,
    requested_by: str | None = None,
) -> list[ModelPublished]:
    """The staged version of `key` becomes production; the old production is archived."""

    async def staged(tx: RegistrySession, _: str | None) -> str:
        version = await tx.alias_version(key, "staging")
        if version is None:
            raise RegistryError(f"nothing is staged for {key}")
        return version

    return await _move_once(rt, key, command_id, staged, requested_by)


async def rollback(
    rt: TrainerRuntime,
    key: str,
    *,
    command_id: str | None = None,
    requested_by: str | None = None,
) -> list[ModelPublished]:
    """Production goes back to the version that was production before the current one."""

    async def previous(tx: RegistrySession, current: str | None) -> str:
        if current is None:
            raise RegistryError(f"no production model for {key}")
        version = await tx.previous_production(key, current)
        if version is None:
            raise RegistryError(f"{key} has no earlier production version to roll back to")
        return version

    return await _move_once(rt, key, command_id, previous, requested_by)


# What a `ModelAliasRequested.action` asks for.
MOVES = {"promote": promote, "rollback": rollback}
