"""The ingestor's runtime: everything an ingest run, the daily schedule and the one-shot
commands use, built once by `app.build_runtime`.

The ingestor has no handlers, so there is no `Annotated[..., Context(RUNTIME)]` alias: the
application functions (`backfill`, `ingest_day`, the schedule) take the runtime as an argument.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import ClassVar

from faststream.kafka.publisher.usecase import DefaultPublisher

from statmuse_ingestor import metrics
from statmuse_ingestor.ports import FeedRepository, IngestRepository, ReportRepository
from statmuse_ingestor.quality import day_timestamp
from statmuse_ingestor.settings import IngestorSettings
from statmuse_ingestor.sources import Source, SourceName
from statmuse_shared.platform.runtime import ServiceRuntime

SourceFactory = Callable[[SourceName], Source]


@dataclass(kw_only=True)
class IngestorRuntime(ServiceRuntime[IngestorSettings]):
    service: ClassVar[str] = "ingestor"

    ingest: IngestRepository  # the runs, the box scores (the outbox), rejects, audit trail
    reports: ReportRepository  # data-quality measurements and the status report
    feeds: FeedRepository  # the schedule, availability and lines: latest per key, and outbox
    sources: SourceFactory  # a source by name (files, nba_api), as the settings configure it
    publish_games: DefaultPublisher  # nba.games.raw.v1
    # How many partitions nba.games.raw.v1 has (asked of the broker): a team box goes to each.
    games_partitions: Callable[[], Awaitable[int]]
    publish_rejects: DefaultPublisher  # nba.games.raw.v1.dlq
    publish_schedule: DefaultPublisher  # nba.schedule.v1
    publish_schedule_rejects: DefaultPublisher  # nba.schedule.v1.dlq
    publish_availability: DefaultPublisher  # nba.availability.v1
    publish_availability_rejects: DefaultPublisher  # nba.availability.v1.dlq
    publish_lines: DefaultPublisher  # nba.lines.v1
    publish_lines_rejects: DefaultPublisher  # nba.lines.v1.dlq

    async def started(self) -> None:
        """Freshness is known from the start, before the first run of this process."""
        last = await self.ingest.last_game_date()
        if last is not None:
            metrics.LAST_GAME_DATE.set(day_timestamp(last))
