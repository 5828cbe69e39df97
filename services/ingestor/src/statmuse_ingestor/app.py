"""create_app(settings): the ingestor's long-running process.

It serves /health, /ready and /metrics and, when `schedule_daily` is on, ingests yesterday's
games every day at 06:00 US/Eastern (one replica at a time, by PostgreSQL advisory lock).
"""

import contextlib
import datetime as dt
import time
from collections.abc import AsyncIterator
from typing import Any

from faststream.kafka import KafkaBroker
from starlette.applications import Starlette

from statmuse_ingestor import metrics
from statmuse_ingestor.adapters import postgres as db
from statmuse_ingestor.backfill import Summary, backfill
from statmuse_ingestor.nba_api_source import NbaApiSource
from statmuse_ingestor.ratelimit import RetryPolicy
from statmuse_ingestor.schedule import daily_loop
from statmuse_ingestor.settings import IngestorSettings
from statmuse_ingestor.sources import FileSource, Source
from statmuse_shared.contract.seasons import season_of
from statmuse_shared.platform.http import worker_app
from statmuse_shared.platform.legacy import build_runtime
from statmuse_shared.platform.runtime import background

SERVICE = "ingestor"


def _record_request(endpoint: str, seconds: float, outcome: str) -> None:
    metrics.SOURCE_SECONDS.labels(endpoint).observe(seconds)
    metrics.SOURCE_REQUESTS.labels(endpoint, outcome).inc()


def make_source(settings: IngestorSettings, name: str) -> Source:
    if name == "files":
        return FileSource(settings.data_dir)
    if name == "nba_api":
        return NbaApiSource(
            min_interval_s=settings.nba_api_min_interval_s,
            timeout_s=settings.nba_api_timeout_s,
            retry=RetryPolicy(attempts=settings.nba_api_attempts),
            on_request=_record_request,
        )
    raise ValueError(f"unknown source {name!r}; available: files, nba_api")


async def ingest_day(*, pool: Any, broker: KafkaBroker, source: Source, day: dt.date) -> Summary:
    """One day's games (player and team box scores) from a source."""
    return await backfill(
        pool=pool,
        broker=broker,
        source=source,
        seasons=[season_of(day)],
        date_from=day,
        date_to=day,
    )


def _no_subscribers(_broker: KafkaBroker, _state: dict[str, Any]) -> None:
    """The ingestor publishes only."""


def create_app(settings: IngestorSettings) -> Starlette:
    rt = build_runtime(service=SERVICE, settings=settings, register=_no_subscribers, consume=False)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with rt.lifespan(app):
            pool = rt.state["pool"]
            async with pool.acquire() as conn:
                last = await db.last_game_date(conn=conn)
            if last is not None:
                metrics.LAST_GAME_DATE.set(time.mktime(last.timetuple()))
            work = None
            if settings.schedule_daily:
                source = make_source(settings, settings.daily_source)

                async def job(day: dt.date) -> Summary:
                    return await ingest_day(pool=pool, broker=rt.broker, source=source, day=day)

                work = daily_loop(pool, job, hour=settings.daily_hour)
            async with background(work):
                yield

    app = worker_app(service=SERVICE, ready=rt.ready, lifespan=lifespan)
    app.state.service_state = rt.state
    return app
