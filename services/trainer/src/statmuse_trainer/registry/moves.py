"""The model registry's alias moves: promote (staging -> production), rollback (production
-> the version that was production before), pin (a given version staged beside production, as
a canary with a share of the traffic or as a shadow that is priced but never served) and unpin.
Each move is one registry session, then `ModelPublished` events, so the predictor and gateway
swap models without a restart; the audit log names who asked."""

import logging
from collections.abc import Awaitable, Callable
from typing import Literal

from statmuse_shared.contract import ids
from statmuse_shared.contract.messages import ModelAliasRequested, ModelPublished
from statmuse_shared.platform.broker import publish_many
from statmuse_trainer.ports import RegistrySession, VersionRow
from statmuse_trainer.runtime import TrainerRuntime

log = logging.getLogger(__name__)


class RegistryError(ValueError):
    """The move cannot be made (nothing staged, nothing to roll back to)."""


def event_of(
    row: VersionRow,
    alias: str,
    *,
    mode: Literal["canary", "shadow"] | None = None,
    share: float | None = None,
) -> ModelPublished:
    """A version announced under `alias` (a pin's `mode` and `share` with it); the event id
    names the move (the version's latest alias-history entry), so a move announced again
    keeps its id."""
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
        mode=mode,
        share=share,
    )


async def _move(
    tx: RegistrySession,
    key: str,
    new_production: str,
    old_production: str | None,
    requested_by: str | None,
) -> list[ModelPublished]:
    # The champion moves last but one (only the staged alias it leaves is dropped after it): a
    # move cut short before it serves what it served, and a retry makes it whole.
    archived = old_production is not None and old_production != new_production
    if archived:
        assert old_production is not None
        await tx.set_alias(key, "archived", old_production, requested_by=requested_by)
    await tx.set_alias(key, "production", new_production, requested_by=requested_by)
    await tx.drop_staging(key, new_production)
    events = [event_of(await tx.version(new_production), "production")]
    if archived:
        assert old_production is not None
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


def _key_of(row: VersionRow) -> str:
    return row.stat.value if row.player_id is None else f"{row.stat.value}:{row.player_id}"


async def pin(
    rt: TrainerRuntime,
    key: str,
    *,
    version: str,
    mode: Literal["canary", "shadow"],
    share: float | None = None,
    command_id: str | None = None,
    requested_by: str | None = None,
) -> list[ModelPublished]:
    """Serve `version` of `key` beside production: a canary answers `share` of the (player,
    date) pairs, a shadow none (the predictor prices it beside production for the A/B test).
    It takes the staging alias (the challenger in MLflow), replacing what was staged."""
    if mode == "canary" and not (share is not None and 0 < share <= 0.5):
        raise RegistryError("a canary needs a share of the traffic above 0 and at most 0.5")
    if mode == "shadow" and share:
        raise RegistryError("a shadow serves nobody: it takes no share")
    detail = f"pin canary {share:g}" if mode == "canary" and share else f"pin {mode}"
    async with rt.registry.transaction() as tx:
        if command_id is not None and not await tx.record_command(command_id):
            events = await _current(tx, key)
            staged = await tx.alias_version(key, "staging")
            if staged == version:  # carried out before: announce the pin again
                row = await tx.version(version)
                events.append(event_of(row, "staging", mode=mode, share=share))
        else:
            try:
                row = await tx.version(version)
            except LookupError as exc:
                raise RegistryError(f"no model version {version}") from exc
            if _key_of(row) != key:
                raise RegistryError(f"{version} is a model of {_key_of(row)}, not of {key}")
            production = await tx.alias_version(key, "production")
            if production is None:
                raise RegistryError(f"{key} has no production model to pin a version beside")
            if production == version:
                raise RegistryError(f"{version} is {key}'s production model already")
            await tx.set_alias(key, "staging", version, requested_by=requested_by, detail=detail)
            row = await tx.version(version)
            events = [event_of(row, "staging", mode=mode, share=share)]
    await publish_many(rt.publish_models, [(key.encode(), e) for e in events])
    log.info("%s of %s: %s by %s", detail, key, version, requested_by)
    return events


async def unpin(
    rt: TrainerRuntime,
    key: str,
    *,
    command_id: str | None = None,
    requested_by: str | None = None,
) -> list[ModelPublished]:
    """End what is staged for `key` (a pin, or a challenger): it is archived, and production
    answers every pair again."""
    async with rt.registry.transaction() as tx:
        if command_id is not None and not await tx.record_command(command_id):
            # Carried out before: announce production, and the unpinned version's archiving
            # (the first run may have stopped before it went out) unless something is staged.
            events = await _current(tx, key)
            last = await tx.last_archived(key)
            if last is not None and await tx.alias_version(key, "staging") is None:
                events.append(event_of(await tx.version(last), "archived"))
        else:
            staged = await tx.alias_version(key, "staging")
            if staged is None:
                raise RegistryError(f"nothing is pinned or staged for {key}")
            await tx.drop_staging(key, staged)
            await tx.set_alias(key, "archived", staged, requested_by=requested_by, detail="unpin")
            events = [event_of(await tx.version(staged), "archived")]
    await publish_many(rt.publish_models, [(key.encode(), e) for e in events])
    log.info("unpinned %s by %s: %s", key, requested_by, [e.version for e in events])
    return events


# What a `ModelAliasRequested.action` of promote or rollback asks for.
MOVES = {"promote": promote, "rollback": rollback}


async def carry_out(rt: TrainerRuntime, command: ModelAliasRequested) -> list[ModelPublished]:
    """A command from nba.models.commands.v1 (RegistryError: it cannot be carried out)."""
    common = {"command_id": command.event_id, "requested_by": command.requested_by}
    if command.action == "pin":
        if command.version is None or command.mode is None:
            raise RegistryError("a pin names a version and a mode (canary or shadow)")
        return await pin(
            rt, command.key, version=command.version, mode=command.mode, share=command.share,
            **common,
        )  # fmt: skip
    if command.action == "unpin":
        return await unpin(rt, command.key, **common)
    return await MOVES[command.action](rt, command.key, **common)
