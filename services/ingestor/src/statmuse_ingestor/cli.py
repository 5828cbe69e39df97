"""statmuse-ingestor: serve, migrate, backfill, schedule, availability, lines, daily, status,
quality."""

import asyncio
import datetime as dt
import json
from collections.abc import Awaitable, Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from statmuse_ingestor import backfill as runs
from statmuse_ingestor.app import build_runtime, connected, create_app, make_lines_source
from statmuse_ingestor.availability import ingest_availability
from statmuse_ingestor.backfill import Counts, Summary
from statmuse_ingestor.lines import ingest_lines
from statmuse_ingestor.ports import IngestStatus
from statmuse_ingestor.quality import Quality
from statmuse_ingestor.runtime import IngestorRuntime
from statmuse_ingestor.schedule import ingest_schedule
from statmuse_ingestor.settings import IngestorSettings
from statmuse_ingestor.sources import FileSource, SourceError, SourceName
from statmuse_shared.contract.seasons import parse_seasons
from statmuse_shared.platform.broker import PublishTimeout, TopicMissing
from statmuse_shared.platform.logging import setup_logging
from statmuse_shared.platform.runtime import service_cli
from statmuse_shared.platform.scheduler import yesterday

console = Console(stderr=True)
T = TypeVar("T")


def _settings() -> IngestorSettings:
    """From the environment (DATABASE_URL, INGESTOR_*); one that is missing or wrong is a
    clear error and exit code 2, not a traceback."""
    try:
        return IngestorSettings()
    except ValidationError as exc:
        wrong = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
        )
        raise _fail(f"settings: {wrong} (set it in the environment)") from None


app = service_cli(
    service="ingestor", schema="ingest", settings=_settings, create_app=create_app, help=__doc__
)


def _fail(message: object) -> typer.Exit:
    console.print(f"[red]error:[/] {message}")
    return typer.Exit(2)


def _source_name(text: str) -> SourceName:
    """`--source`: one of SourceName; anything else is the error it always was (exit 2)."""
    try:
        return SourceName(text)
    except ValueError:
        raise _fail(f"unknown source {text!r}; available: files, nba_api") from None


def _source_option(help: str) -> Any:  # typer.Option is typed Any
    return typer.Option(parser=_source_name, metavar="[files|nba_api]", help=help)


SeasonsOption = Annotated[
    str, typer.Option(help="2023-24, a list 2021-22,2023-24 or 2017-18..2023-24")
]
FromOption = Annotated[str | None, typer.Option("--from", help="Only games on or after YYYY-MM-DD")]
ToOption = Annotated[str | None, typer.Option("--to", help="Only games on or before YYYY-MM-DD")]
DataDirOption = Annotated[Path | None, typer.Option(help="Folder with the bundled logs")]
SummaryOption = Annotated[Path | None, typer.Option(help="Also write the counts here (JSON)")]


@app.command()
def backfill(
    seasons: SeasonsOption,
    source: Annotated[
        SourceName, _source_option("files (bundled data) or nba_api (live)")
    ] = SourceName.FILES,
    date_from: FromOption = None,
    date_to: ToOption = None,
    data_dir: Annotated[Path | None, typer.Option(help="Folder with player_game_logs/")] = None,
    summary_json: Annotated[Path | None, typer.Option(help="Also write the counts here")] = None,
) -> None:
    """Load seasons (the games between the dates, when given) from a source into PostgreSQL
    and publish them."""
    season_list, lo, hi = _window(seasons, date_from, date_to)
    settings = _settings()
    setup_logging("ingestor", level="WARNING", json_lines=settings.log_json)
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    if source == SourceName.FILES and not (settings.data_dir / "player_game_logs").is_dir():
        raise _fail(f"no player_game_logs/ under {settings.data_dir}")
    summary = _run_or_exit(settings, lambda rt: _backfill(rt, source, season_list, lo, hi))
    _report(summary, summary_json)


def _window(
    seasons: str, date_from: str | None, date_to: str | None
) -> tuple[list[str], dt.date | None, dt.date | None]:
    """The seasons and the dates, or a clear error (exit 2)."""
    try:
        season_list = parse_seasons(seasons)
        lo = dt.date.fromisoformat(date_from) if date_from else None
        hi = dt.date.fromisoformat(date_to) if date_to else None
    except ValueError as exc:
        raise _fail(exc) from exc
    if lo and hi and hi < lo:
        raise _fail(f"--to {hi} is before --from {lo}")
    return season_list, lo, hi


def _feed_settings(data_dir: Path | None) -> IngestorSettings:
    settings = _settings()
    setup_logging("ingestor", level="WARNING", json_lines=settings.log_json)
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    return settings


@app.command()
def schedule(
    seasons: SeasonsOption,
    source: Annotated[
        SourceName,
        _source_option("files (derived from the bundled box scores) or nba_api (live)"),
    ] = SourceName.FILES,
    date_from: FromOption = None,
    date_to: ToOption = None,
    data_dir: DataDirOption = None,
    summary_json: SummaryOption = None,
) -> None:
    """Load the seasons' schedule into PostgreSQL and publish the games that are new or
    changed (postponed, moved, played) on nba.schedule.v1."""
    season_list, lo, hi = _window(seasons, date_from, date_to)
    settings = _feed_settings(data_dir)
    summary = _run_or_exit(
        settings,
        lambda rt: ingest_schedule(
            rt, source=rt.sources(source), seasons=season_list, date_from=lo, date_to=hi
        ),
    )
    _report_counts("schedule", summary, summary_json)


@app.command()
def availability(
    seasons: SeasonsOption,
    date_from: FromOption = None,
    date_to: ToOption = None,
    data_dir: DataDirOption = None,
    summary_json: SummaryOption = None,
) -> None:
    """Load who was out for each team in each game of the seasons (the files source's
    stand-in: rotation players missing from the box score) and publish the lists that are
    new or changed on nba.availability.v1."""
    season_list, lo, hi = _window(seasons, date_from, date_to)
    settings = _feed_settings(data_dir)
    source = FileSource(settings.data_dir)
    summary = _run_or_exit(
        settings,
        lambda rt: ingest_availability(
            rt, source=source, seasons=season_list, date_from=lo, date_to=hi
        ),
    )
    _report_counts("availability", summary, summary_json)


class LinesSourceName(StrEnum):
    FILES = "files"
    THE_ODDS_API = "the_odds_api"


@app.command()
def lines(
    seasons: SeasonsOption,
    source: Annotated[
        LinesSourceName,
        typer.Option(
            help="files (the bundled prop_lines) or the_odds_api (live; needs "
            "INGESTOR_ODDS_API_KEY)"
        ),
    ] = LinesSourceName.FILES,
    date_from: FromOption = None,
    date_to: ToOption = None,
    data_dir: DataDirOption = None,
    summary_json: SummaryOption = None,
) -> None:
    """Load the books' prop lines of the seasons' games and publish the lines that are new or
    moved on nba.lines.v1 (each matched to a player the ingestor has box scores of)."""
    season_list, lo, hi = _window(seasons, date_from, date_to)
    settings = _feed_settings(data_dir)
    try:
        chosen = make_lines_source(settings, source.value)
    except ValueError as exc:
        raise _fail(exc) from exc
    summary = _run_or_exit(
        settings,
        lambda rt: ingest_lines(rt, source=chosen, seasons=season_list, date_from=lo, date_to=hi),
    )
    _report_counts("lines", summary, summary_json)


def _report_counts(title: str, summary: Counts, summary_json: Path | None = None) -> None:
    table = Table(title=title)
    counts = summary.counts()
    if summary_json is not None:
        summary_json.write_text(json.dumps(counts))
    for column in (*counts, "seconds"):
        table.add_column(column, justify="right")
    table.add_row(*(str(v) for v in counts.values()), f"{summary.seconds:.1f}")
    Console().print(table)
    for reason, count in sorted(summary.reject_reasons.items()):
        console.print(f"  rejected {count}: {reason}")


@app.command()
def daily(
    day: Annotated[
        str | None, typer.Option("--date", help="YYYY-MM-DD (default: yesterday, US/Eastern)")
    ] = None,
    source: Annotated[SourceName, _source_option("nba_api (default) or files")] = (
        SourceName.NBA_API
    ),
    summary_json: Annotated[Path | None, typer.Option(help="Also write the counts here")] = None,
) -> None:
    """Ingest one day's games (what the service schedules at 06:00 US/Eastern)."""
    settings = _settings()
    setup_logging("ingestor", level="WARNING", json_lines=settings.log_json)
    try:
        when = dt.date.fromisoformat(day) if day else yesterday(dt.datetime.now(dt.UTC))
    except ValueError as exc:
        raise _fail(exc) from exc
    summary = _run_or_exit(
        settings, lambda rt: runs.ingest_day(rt, source=rt.sources(source), day=when)
    )
    _report(summary, summary_json)


def _run_or_exit(settings: IngestorSettings, run: Callable[[IngestorRuntime], Awaitable[T]]) -> T:
    """Run against the connected runtime; a source or broker that stays unreachable is a clear
    error and exit code 3."""

    async def go() -> T:
        async with connected(settings) as rt:
            return await run(rt)

    try:
        return asyncio.run(go())
    except SourceError as exc:
        console.print(f"[red]source failed:[/] {exc}")
        raise typer.Exit(3) from exc
    except (PublishTimeout, TopicMissing) as exc:
        # Stored rows stay in the outbox; the next run publishes them.
        console.print(
            f"[red]broker unavailable:[/] {exc}; the stored rows are published by the next run"
        )
        raise typer.Exit(3) from exc


async def _backfill(
    rt: IngestorRuntime,
    source: SourceName,
    seasons: list[str],
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> Summary:
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
        return await runs.backfill(
            rt,
            source=rt.sources(source),
            seasons=seasons,
            date_from=date_from,
            date_to=date_to,
            progress=lambda phase, n: bar.advance(tasks[phase], n),
        )


def _report(summary: Summary, summary_json: Path | None) -> None:
    _report_counts(f"ingest run {summary.run_id}", summary, summary_json)


def _with_database(
    settings: IngestorSettings, read: Callable[[IngestorRuntime], Awaitable[T]]
) -> T:
    """Run `read` on the service's runtime with only its database open (no broker needed)."""

    async def go() -> T:
        async with build_runtime(settings).database_only() as rt:
            return await read(rt)

    return asyncio.run(go())


@app.command()
def status() -> None:
    """Last game stored, last run, rejects."""
    _print_status(_with_database(_settings(), lambda rt: rt.reports.status()))


def _print_status(report: IngestStatus) -> None:
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
    for r in sorted(report.runs, key=lambda r: r.started_at, reverse=True):
        label = "last successful" if r.status == "succeeded" else "last unsuccessful"
        table.add_row(
            label,
            r.status,
            r.source,
            str(r.finished_at or "-"),
            *(
                str(v)
                for v in (
                    r.rows_read,
                    r.rows_stored,
                    r.rows_rejected,
                    r.rows_flagged,
                    r.events_published,
                )
            ),
        )
    Console().print(table)
    console.print(f"last game date stored: {report.last_game_date}")
    console.print(f"rows waiting to be published: {report.unpublished}")
    for reason, n in report.reject_reasons:
        console.print(f"  rejected {n}: {reason}")


@app.command("quality")
def quality_command() -> None:
    """Measure the data quality of the last 24 h of ingest runs now (missing fields, outliers,
    source failures, freshness), store it and print it."""
    _print_quality(_with_database(_settings(), lambda rt: runs.measure_quality(rt.reports)))


def _print_quality(q: Quality) -> None:
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
