"""statmuse-ingestor: serve, migrate, backfill, status."""

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from statmuse_ingestor.app import make_source
from statmuse_ingestor.backfill import Summary
from statmuse_ingestor.backfill import backfill as run
from statmuse_ingestor.settings import IngestorSettings
from statmuse_ingestor.sources import Source, SourceError
from statmuse_shared.contract.seasons import parse_seasons
from statmuse_shared.platform.broker import make_broker
from statmuse_shared.platform.db import create_pool
from statmuse_shared.platform.logging import setup_logging
from statmuse_shared.platform.runtime import service_cli

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
    source: Annotated[str, typer.Option(help="files (bundled data) or nba_api (live)")] = "files",
    data_dir: Annotated[Path | None, typer.Option(help="Folder with player_game_logs/")] = None,
    summary_json: Annotated[Path | None, typer.Option(help="Also write the counts here")] = None,
) -> None:
    """Load seasons from a source into PostgreSQL and publish them."""
    settings = _settings()
    setup_logging("ingestor", level="WARNING", json_lines=settings.log_json)
    try:
        season_list = parse_seasons(seasons)
    except ValueError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    if source == "files" and not (settings.data_dir / "player_game_logs").is_dir():
        console.print(f"[red]error:[/] no player_game_logs/ under {settings.data_dir}")
        raise typer.Exit(2)
    try:
        chosen = make_source(settings, source)
    except ValueError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    summary = _run_or_exit(_backfill(settings, chosen, season_list))
    _report(summary, summary_json)


@app.command()
def daily(
    day: Annotated[
        str | None, typer.Option("--date", help="YYYY-MM-DD (default: yesterday, US/Eastern)")
    ] = None,
    source: Annotated[str, typer.Option(help="nba_api (default) or files")] = "nba_api",
    summary_json: Annotated[Path | None, typer.Option(help="Also write the counts here")] = None,
) -> None:
    """Ingest one day's games (what the service schedules at 06:00 US/Eastern)."""
    import datetime as dt

    from statmuse_ingestor.schedule import yesterday

    settings = _settings()
    setup_logging("ingestor", level="WARNING", json_lines=settings.log_json)
    try:
        when = dt.date.fromisoformat(day) if day else yesterday(dt.datetime.now(dt.UTC))
        chosen = make_source(settings, source)
    except ValueError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    summary = _run_or_exit(_daily(settings, chosen, when))
    _report(summary, summary_json)


def _run_or_exit(coro: Any) -> Summary:
    """Run; a source or broker that stays unreachable is a clear error and exit code 3."""
    from statmuse_shared.platform.broker import PublishTimeout

    try:
        result: Summary = asyncio.run(coro)
    except SourceError as exc:
        console.print(f"[red]source failed:[/] {exc}")
        raise typer.Exit(3) from exc
    except PublishTimeout as exc:
        # Stored rows stay in the outbox; the next run publishes them.
        console.print(
            f"[red]broker unavailable:[/] {exc}; the stored rows are published by the next run"
        )
        raise typer.Exit(3) from exc
    return result


def _report(summary: Summary, summary_json: Path | None) -> None:
    table = Table(title=f"ingest run {summary.run_id}")
    counts = summary.counts()
    for column in (*counts, "seconds"):
        table.add_column(column, justify="right")
    table.add_row(*(str(v) for v in counts.values()), f"{summary.seconds:.1f}")
    Console().print(table)
    if summary_json is not None:
        summary_json.write_text(json.dumps(summary.counts()))
    for reason, count in sorted(summary.reject_reasons.items()):
        console.print(f"  rejected {count}: {reason}")


async def _daily(settings: IngestorSettings, source: Source, day: Any) -> Summary:
    from statmuse_ingestor.app import ingest_day

    pool = await create_pool(settings.dsn, max_size=4)
    broker = make_broker(settings.kafka_bootstrap_servers, client_id="ingestor-daily")
    await broker.connect()
    try:
        return await ingest_day(pool=pool, broker=broker, source=source, day=day)
    finally:
        await broker.stop()
        await pool.close()


async def _backfill(settings: IngestorSettings, source: Source, seasons: list[str]) -> Summary:
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
                "read": bar.add_task("read + validate", total=None),
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
        runs = await conn.fetch(
            """SELECT DISTINCT ON (status = 'succeeded') status, source, started_at,
                      finished_at, rows_read, rows_stored, rows_rejected, rows_flagged,
                      events_published, error
               FROM ingest.ingest_runs ORDER BY status = 'succeeded', started_at DESC"""
        )
        unpublished = await conn.fetchval(
            "SELECT (SELECT count(*) FROM ingest.player_game_stats WHERE published_at IS NULL)"
            " + (SELECT count(*) FROM ingest.team_game_stats WHERE published_at IS NULL)"
        )
        reasons = await conn.fetch(
            "SELECT split_part(reason, ':', 1) || ':' || split_part(reason, ':', 2) AS reason,"
            " count(*) AS n FROM ingest.rejects GROUP BY 1 ORDER BY 2 DESC LIMIT 10"
        )
    finally:
        await conn.close()
    table = Table(title="ingest status")
    for column in (
        "run",
        "status",
        "source",
        "finished",
        "read",
        "stored",
        "rejected",
        "flagged",
        "published",
    ):
        table.add_column(column)
    for r in sorted(runs, key=lambda r: r["started_at"], reverse=True):
        label = "last successful" if r["status"] == "succeeded" else "last unsuccessful"
        table.add_row(
            label,
            r["status"],
            r["source"],
            str(r["finished_at"] or "-"),
            *(
                str(r[c])
                for c in (
                    "rows_read",
                    "rows_stored",
                    "rows_rejected",
                    "rows_flagged",
                    "events_published",
                )
            ),
        )
    Console().print(table)
    console.print(f"last game date stored: {last}")
    console.print(f"rows waiting to be published: {unpublished}")
    for r in reasons:
        console.print(f"  rejected {r['n']}: {r['reason']}")


@app.command("quality")
def quality_command() -> None:
    """Measure the data quality of the last 24 h of ingest runs now (missing fields, outliers,
    source failures, freshness), store it and print it."""
    import asyncpg

    from statmuse_ingestor import quality

    async def go() -> quality.Quality:
        conn = await asyncpg.connect(_settings().dsn)
        try:
            return await quality.measure(conn)
        finally:
            await conn.close()

    q = asyncio.run(go())

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{v:.1%}"

    table = Table(title=f"data quality, last 24 h (measured {q.measured_at:%Y-%m-%d %H:%M} UTC)")
    for column in ("runs", "failed", "rows read", "missing", "outliers", "last game", "age (h)"):
        table.add_column(column)
    fresh = "-" if q.freshness_hours is None else f"{q.freshness_hours:.0f}"
    table.add_row(
        str(q.runs),
        pct(q.source_failure_ratio),
        str(q.rows_read),
        pct(q.missing_ratio),
        pct(q.outlier_ratio),
        str(q.last_game_date or "-"),
        fresh,
    )
    Console().print(table)


def main() -> None:
    app()
