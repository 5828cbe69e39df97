"""`import-model`, `promote`, `rollback`, `pin`, `unpin`, `audit`, `import-legacy-registry`:
the registry from the command line (registry/); moves made here are in the audit log as
`cli:<user>`."""

import getpass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from statmuse_trainer.cli.common import echo_events, fail, load_settings, one_shot, run

if TYPE_CHECKING:
    from statmuse_shared.contract.messages import ModelPublished
    from statmuse_trainer.registry.publish import Bundle
    from statmuse_trainer.settings import TrainerSettings


async def _publish(
    settings: "TrainerSettings", bundles: "list[Bundle]", promote: bool
) -> "list[ModelPublished]":
    from statmuse_trainer.registry.publish import publish_bundles

    async with one_shot(settings) as rt:
        return await publish_bundles(rt, bundles, promote=promote)


def import_model(
    bundles: Annotated[list[Path], typer.Argument(help="Model bundles (.npz) from a training run")],
    promote: Annotated[bool, typer.Option(help="Register as production, not staging")] = False,
) -> None:
    """Register model bundles trained elsewhere (e.g. the ones shipped in models/) and
    announce them, exactly as `train` does with its own."""
    from statmuse_shared.models.output import ModelInputError
    from statmuse_trainer.registry.publish import read_bundle

    loaded = []
    for path in bundles:
        try:
            loaded.append(read_bundle(path))
        except (OSError, ModelInputError) as exc:
            typer.echo(f"error: {path}: {exc}", err=True)
            raise typer.Exit(2) from exc
    echo_events(run(_publish(load_settings(), loaded, promote)))


async def _move(settings: "TrainerSettings", action: str, key: str) -> "list[ModelPublished]":
    from statmuse_trainer.registry.moves import MOVES

    async with one_shot(settings) as rt:
        return await MOVES[action](rt, key, requested_by=_who())


def _moved(action: str, key: str) -> None:
    from statmuse_trainer.registry.moves import RegistryError

    try:
        events = run(_move(load_settings(), action, key))
    except RegistryError as exc:
        fail(str(exc))
    echo_events(events)


def promote(
    key: Annotated[str, typer.Argument(help="Serving key: a stat, or stat:player_id")],
) -> None:
    """Make the staged model of KEY production (the old one is archived)."""
    _moved("promote", key)


def rollback(
    key: Annotated[str, typer.Argument(help="Serving key: a stat, or stat:player_id")],
) -> None:
    """Put back the model that was production before the current one."""
    _moved("rollback", key)


def _who() -> str:
    return f"cli:{getpass.getuser()}"


async def _pin(
    settings: "TrainerSettings", key: str, version: str, mode: str, share: float | None
) -> "list[ModelPublished]":
    from statmuse_trainer.registry.moves import pin as pin_move

    async with one_shot(settings) as rt:
        return await pin_move(
            rt,
            key,
            version=version,
            mode="canary" if mode == "canary" else "shadow",
            share=share,
            requested_by=_who(),
        )


def pin(
    key: Annotated[str, typer.Argument(help="Serving key: a stat, or stat:player_id")],
    version: Annotated[str, typer.Argument(help="A registered version of KEY")],
    mode: Annotated[
        str, typer.Option(help="canary: answers --share of the traffic; shadow: only priced")
    ] = "shadow",
    share: Annotated[
        float | None, typer.Option(min=0.0, max=0.5, help="canary: the share of traffic")
    ] = None,
) -> None:
    """Serve VERSION of KEY beside production, as a canary or a shadow (as POST
    /api/models/{key}/load does)."""
    from statmuse_trainer.registry.moves import RegistryError

    if mode not in ("canary", "shadow"):
        raise typer.BadParameter("canary or shadow", param_hint="--mode")
    try:
        events = run(_pin(load_settings(), key, version, mode, share))
    except RegistryError as exc:
        fail(str(exc))
    echo_events(events)


async def _unpin(settings: "TrainerSettings", key: str) -> "list[ModelPublished]":
    from statmuse_trainer.registry.moves import unpin as unpin_move

    async with one_shot(settings) as rt:
        return await unpin_move(rt, key, requested_by=_who())


def unpin(
    key: Annotated[str, typer.Argument(help="Serving key: a stat, or stat:player_id")],
) -> None:
    """End the pinned (or staged) version of KEY: production answers everything again."""
    from statmuse_trainer.registry.moves import RegistryError

    try:
        events = run(_unpin(load_settings(), key))
    except RegistryError as exc:
        fail(str(exc))
    echo_events(events)


async def _audit(settings: "TrainerSettings", key: str | None, limit: int) -> list[Any]:
    async with one_shot(settings) as rt, rt.db.acquire() as conn:
        rows: list[Any] = await conn.fetch(
            """SELECT changed_at, serving_key, alias, version, requested_by, detail
               FROM registry.alias_history WHERE $1::text IS NULL OR serving_key = $1
               ORDER BY id DESC LIMIT $2""",
            key,
            limit,
        )
    return rows


def audit(
    key: Annotated[str | None, typer.Option(help="Only this serving key")] = None,
    limit: Annotated[int, typer.Option(min=1, help="The newest N moves")] = 50,
) -> None:
    """The registry's audit log, newest first: every alias move, who asked, what it was."""
    for r in run(_audit(load_settings(), key, limit)):
        typer.echo(
            f"{r['changed_at']:%Y-%m-%d %H:%M:%S%z}  {r['serving_key']:<14} {r['alias']:<10} "
            f"{r['version']:<34} {r['requested_by'] or '-':<24} {r['detail'] or ''}"
        )


async def _import_legacy(settings: "TrainerSettings") -> "tuple[list[ModelPublished], list[str]]":
    from statmuse_trainer.adapters.legacy_registry import served_versions
    from statmuse_trainer.registry.legacy import import_legacy

    async with one_shot(settings) as rt:
        return await import_legacy(rt, await served_versions(rt.db), requested_by=_who())


def import_legacy_registry() -> None:
    """Register in MLflow the versions the PostgreSQL registry served before the upgrade
    (production and staging, under their own names), and announce them; versions MLflow has
    already are skipped."""
    events, skipped = run(_import_legacy(load_settings()))
    echo_events(events)
    for version in skipped:
        typer.echo(f"{version}: in MLflow already")
