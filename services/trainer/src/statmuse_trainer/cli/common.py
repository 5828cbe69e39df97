"""What the trainer's commands share: settings from the environment, the runtime of a
one-shot command, where the dataset and models are by default, and how a command fails."""

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Coroutine, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer

from statmuse_shared.contract.messages import ModelPublished
from statmuse_shared.platform.scheduler import yesterday
from statmuse_trainer.runtime import TrainerRuntime
from statmuse_trainer.settings import TrainerSettings

T = TypeVar("T")


def load_settings() -> TrainerSettings:
    return TrainerSettings()  # DATABASE_URL comes from the env


def create_app(settings: TrainerSettings) -> object:
    from statmuse_trainer.app import create_app as create

    return create(settings)


def run(work: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(work)


@asynccontextmanager
async def one_shot(
    settings: TrainerSettings | None = None, *, kafka: bool = True
) -> AsyncIterator[TrainerRuntime]:
    """The service's runtime for one command: PostgreSQL, and Kafka connected to publish
    (no consumers) unless `kafka` is off."""
    from statmuse_trainer.app import build_runtime

    rt = build_runtime(settings or load_settings())
    async with rt.running(consume=False) if kafka else rt.database_only():
        yield rt


def fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def echo_events(events: Iterable[ModelPublished]) -> None:
    for e in events:
        typer.echo(f"{e.version}: {e.alias}")


def latest(parent: Path, pattern: str) -> Path | None:
    found = sorted(parent.glob(pattern), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def dataset_dir(given: Path | None) -> Path | None:
    """A dataset version directory: the one given (or the directory of a given parquet file),
    else the newest under var/datasets."""
    dataset = given or latest(Path("var/datasets"), "*/test.parquet")
    return dataset.parent if dataset is not None and dataset.suffix == ".parquet" else dataset


def game_day(value: str | None) -> dt.date:
    """--date: a game day, default yesterday (US/Eastern)."""
    return dt.date.fromisoformat(value) if value else yesterday(dt.datetime.now(dt.UTC))
