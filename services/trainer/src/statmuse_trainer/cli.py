"""statmuse-trainer: serve, migrate, dataset, promote, rollback."""

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer

from statmuse_shared.runtime import service_cli
from statmuse_trainer.dataset import Split, check, frame, save
from statmuse_trainer.settings import TrainerSettings


def _settings() -> TrainerSettings:
    return TrainerSettings()  # DATABASE_URL comes from the env


def _create_app(settings: TrainerSettings) -> object:
    from statmuse_trainer.app import create_app

    return create_app(settings)


app = service_cli(
    service="trainer", schema="registry", settings=_settings, create_app=_create_app, help=__doc__
)


@app.command()
def dataset(
    train: Annotated[str, typer.Option(help="Training seasons")] = "2017-18..2021-22",
    validate: Annotated[str, typer.Option(help="Validation and calibration seasons")] = "2022-23",
    test: Annotated[str, typer.Option(help="Test seasons, never seen in training")] = "2023-24",
    out: Annotated[Path, typer.Option(help="Where the parquet files go")] = Path("var/datasets"),
) -> None:
    """Build the training dataset from the stored game vectors: one parquet file per split,
    versioned by content hash, refused if any leakage check fails."""
    split = Split(tuple(_seasons(train)), tuple(_seasons(validate)), tuple(_seasons(test)))
    version, paths, counts = asyncio.run(_dataset(_settings(), split, out))
    for name, path in paths.items():
        typer.echo(f"{name}: {counts[name]} rows -> {path}")
    typer.echo(f"dataset version {version}")


def _seasons(spec: str) -> list[str]:
    first, _, last = spec.partition("..")
    if not last:
        return [s.strip() for s in spec.split(",") if s.strip()]
    start, end = int(first[:4]), int(last[:4])
    return [f"{y}-{(y + 1) % 100:02d}" for y in range(start, end + 1)]


async def _dataset(
    settings: TrainerSettings, split: Split, out: Path
) -> tuple[str, dict[str, Path], dict[str, int]]:
    import asyncpg

    from statmuse_shared.features import FEATURE_SET_VERSION
    from statmuse_trainer.adapters.postgres import dataset_rows

    conn = await asyncpg.connect(settings.dsn)
    try:
        seasons = [*split.train, *split.validation, *split.test]
        rows = await dataset_rows(
            conn=conn, feature_set_version=FEATURE_SET_VERSION, seasons=seasons
        )
    finally:
        await conn.close()
    df = frame(rows, split)
    check(df, split)
    version, paths = save(df, out)
    counts = {str(k): int(v) for k, v in df["split"].value_counts().items()}
    return version, paths, counts


@app.command()
def promote(
    key: Annotated[str, typer.Argument(help="Serving key: a stat, or stat:player_id")],
) -> None:
    """Make the staged model of KEY production (the old one is archived)."""
    _move("promote", key)


@app.command()
def rollback(
    key: Annotated[str, typer.Argument(help="Serving key: a stat, or stat:player_id")],
) -> None:
    """Put back the model that was production before the current one."""
    _move("rollback", key)


def _move(action: str, key: str) -> None:
    from statmuse_trainer.registry import RegistryError

    try:
        events = asyncio.run(_registry(_settings(), action, key))
    except RegistryError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    for e in events:
        typer.echo(f"{e.version}: {e.alias}")


async def _registry(settings: TrainerSettings, action: str, key: str) -> list[Any]:
    from statmuse_shared.broker import make_broker
    from statmuse_shared.db import create_pool
    from statmuse_trainer import registry

    pool = await create_pool(settings.dsn, max_size=2)
    broker = make_broker(settings.kafka_bootstrap_servers, client_id="trainer-registry")
    await broker.connect()
    try:
        move = registry.promote if action == "promote" else registry.rollback
        return await move(pool=pool, broker=broker, key=key)
    finally:
        await broker.stop()
        await pool.close()


def main() -> None:
    app()
