"""The ingestor's composition root: `build_runtime(settings)` wires the broker (with the
publishers of `channels`), the database, the repositories and the sources; `create_app` is the
long-running service (/health, /ready, /metrics and, when `schedule_daily` is on, the daily
ingest at `daily_hour`:00 US/Eastern, one replica at a time); `connected` is the same runtime
for a one-shot command (database open, broker connected to publish).
"""

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from statmuse_ingestor import metrics
from statmuse_ingestor.adapters.feeds import PostgresFeeds
from statmuse_ingestor.adapters.postgres import PostgresIngest
from statmuse_ingestor.adapters.reports import PostgresReports
from statmuse_ingestor.channels import channels
from statmuse_ingestor.jobs import run_schedule
from statmuse_ingestor.lines import LinesSource
from statmuse_ingestor.nba_api_source import NbaApiSource
from statmuse_ingestor.odds_api_source import TheOddsApiSource
from statmuse_ingestor.ports import FeedRepository, IngestRepository, ReportRepository
from statmuse_ingestor.ratelimit import RetryPolicy
from statmuse_ingestor.runtime import IngestorRuntime, SourceFactory
from statmuse_ingestor.settings import IngestorSettings
from statmuse_ingestor.sources import FileSource, Source, SourceName
from statmuse_shared.contract import topics
from statmuse_shared.platform.broker import make_broker, partition_count
from statmuse_shared.platform.db import Database
from statmuse_shared.platform.runtime import service_app


def _record_request(endpoint: str, seconds: float, outcome: str) -> None:
    metrics.SOURCE_SECONDS.labels(endpoint).observe(seconds)
    metrics.SOURCE_REQUESTS.labels(endpoint, outcome).inc()


def make_source(settings: IngestorSettings, name: SourceName) -> Source:
    if name == SourceName.FILES:
        return FileSource(settings.data_dir)
    return NbaApiSource(
        min_interval_s=settings.nba_api_min_interval_s,
        timeout_s=settings.nba_api_timeout_s,
        retry=RetryPolicy(attempts=settings.nba_api_attempts),
        on_request=_record_request,
    )


def make_lines_source(settings: IngestorSettings, name: str) -> LinesSource:
    """`files` (the bundled prop_lines) or `the_odds_api` (live; needs INGESTOR_ODDS_API_KEY:
    ValueError without it)."""
    if name == "files":
        return FileSource(settings.data_dir)
    key = settings.odds_api_key.get_secret_value() if settings.odds_api_key else ""
    return TheOddsApiSource(
        api_key=key,
        regions=settings.odds_api_regions,
        min_interval_s=settings.odds_api_min_interval_s,
        retry=RetryPolicy(attempts=settings.nba_api_attempts),
        on_request=_record_request,
    )


def build_runtime(
    settings: IngestorSettings,
    *,
    db: Database | None = None,
    ingest: IngestRepository | None = None,
    reports: ReportRepository | None = None,
    feeds: FeedRepository | None = None,
    sources: SourceFactory | None = None,
    games_partitions: Callable[[], Awaitable[int]] | None = None,
) -> IngestorRuntime:
    """The runtime `create_app` serves; tests pass in-memory `ingest`, `reports` and
    `feeds`, their own `sources`, a `db` over a pool they opened, or `games_partitions` in
    place of asking the broker."""
    broker = make_broker(
        settings.kafka_bootstrap_servers,
        client_id=IngestorRuntime.service,
        auth=settings.kafka_auth,
    )
    wired = channels()
    broker.include_router(wired.router)
    db = Database(settings.dsn) if db is None else db
    return IngestorRuntime(
        settings=settings,
        broker=broker,
        db=db,
        ingest=PostgresIngest(db) if ingest is None else ingest,
        reports=PostgresReports(db) if reports is None else reports,
        feeds=PostgresFeeds(db) if feeds is None else feeds,
        sources=functools.partial(make_source, settings) if sources is None else sources,
        publish_games=wired.games,
        games_partitions=(
            functools.partial(
                partition_count,
                settings.kafka_bootstrap_servers,
                topics.GAMES_RAW,
                auth=settings.kafka_auth,
            )
            if games_partitions is None
            else games_partitions
        ),
        publish_rejects=wired.rejects,
        publish_schedule=wired.schedule,
        publish_schedule_rejects=wired.schedule_rejects,
        publish_availability=wired.availability,
        publish_availability_rejects=wired.availability_rejects,
        publish_lines=wired.lines,
        publish_lines_rejects=wired.lines_rejects,
    )


def create_app(settings: IngestorSettings) -> Starlette:
    rt = build_runtime(settings)
    work = functools.partial(run_schedule, rt) if settings.schedule_daily else None
    return service_app(rt, work=work)


@asynccontextmanager
async def connected(settings: IngestorSettings) -> AsyncIterator[IngestorRuntime]:
    """The runtime of a one-shot command (backfill, daily): the database open and the broker
    connected for publishing, both closed when the block ends."""
    async with build_runtime(settings).running(consume=False) as rt:
        yield rt
