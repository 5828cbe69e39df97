"""`import-model`, `promote`, `rollback`: the registry from the command line (registry/)."""

import getpass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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
        return await MOVES[action](rt, key, requested_by=f"cli:{getpass.getuser()}")


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
