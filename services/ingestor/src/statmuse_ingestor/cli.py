"""statmuse-ingestor: serve, migrate, backfill, status."""

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from statmuse_ingestor.backfill import Summary
from statmuse_ingestor.backfill import backfill as run
from statmuse_ingestor.settings import IngestorSettings
from statmuse_ingestor.sources import Source
from statmuse_shared.logging import setup_logging
from statmuse_shared.runtime import service_cli

console = Console(stderr=True)


def _settings() -> IngestorSettings:
    return IngestorSettings()  # DATABASE_URL comes from the env


def _create_app(settings: IngestorSettings) -> object:
    from statmuse_ingestor.app import create_app

    return create_app(settings)


app = service_cli(
    service="ingestor", schema="ingest", settings=_settings, create_app=_create_app, help=__doc__
)


@app.command()
def backfill(
    seasons: Annotated[
        str, typer.Option(help="2023-24, a list 2021-22,2023-24 or 2017-18..2023-24")
    ],
    source: Annotated[
        str, typer.Option(help="files (nba_api comes with the ingestor issue)")
    ] = "files",
    data_dir: Annotated[Path | None, typer.Option(help="Folder with player_game_logs/")] = None,
    summary_json: Annotated[Path | None, typer.Option(help="Also write the counts here")] = None,
) -> None:
    """Load seasons from a source into PostgreSQL and publish them."""
    from statmuse_ingestor.sources import FileSource, parse_seasons

    settings = _settings()
    setup_logging("ingestor", level="WARNING", json_lines=settings.log_json)
    try:
        season_list = parse_seasons(seasons)
    except ValueError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    if source != "files":
        console.print(f"[red]error:[/] unknown source {source!r}; available: files")
        raise typer.Exit(2)
    folder = data_dir or settings.data_dir
    if not (folder / "player_game_logs").is_dir():
        console.print(f"[red]error:[/] no player_game_logs/ under {folder}")
        raise typer.Exit(2)
    summary = asyncio.run(_backfill(settings, FileSource(folder), season_list))
    table = Table(title=f"ingest run {summary.run_id}")
    for column in ("read", "stored", "unchanged", "rejected", "published", "seconds"):
        table.add_column(column, justify="right")
    table.add_row(*(str(v) for v in summary.counts().values()), f"{summary.seconds:.1f}")
    Console().print(table)
    if summary_json is not None:
        summary_json.write_text(json.dumps(summary.counts()))
    for reason, count in sorted(summary.reject_reasons.items()):
        console.print(f"  rejected {count}: {reason}")


async def _backfill(settings: IngestorSettings, source: Source, seasons: list[str]) -> Summary:
    from statmuse_shared.broker import make_broker
    from statmuse_shared.db import create_pool

    pool = await create_pool(settings.dsn, max_size=4)
    broker = make_broker(settings.kafka_bootstrap_servers, client_id="ingestor-backfill")
    await broker.connect()
    try:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as bar:
            tasks = {
                "store": bar.add_task("store rows", total=None),
                "publish": bar.add_task("publish events", total=None),
            }
            return await run(
                pool=pool,
                broker=broker,
                source=source,
                seasons=seasons,
                progress=lambda phase, n: bar.advance(tasks[phase], n),
            )
    finally:
        await broker.stop()
        await pool.close()


@app.command()
def status() -> None:
    """Last game stored, last run, rejects."""
    asyncio.run(_status(_settings()))


async def _status(settings: IngestorSettings) -> None:
    import asyncpg

    conn = await asyncpg.connect(settings.dsn)
    try:
        last = await conn.fetchval("SELECT max(game_date) FROM ingest.player_game_stats")
        run = await conn.fetchrow(
            "SELECT * FROM ingest.ingest_runs ORDER BY started_at DESC LIMIT 1"
        )
        rejects = await conn.fetchval("SELECT count(*) FROM ingest.rejects")
    finally:
        await conn.close()
    console.print(f"last game date stored: {last}")
    console.print(f"last run: {dict(run) if run else None}")
    console.print(f"rejected rows (all runs): {rejects}")


def main() -> None:
    app()
