"""Availability: who is out for each team in each game, stored and published as a feed
(`feeds`) on nba.availability.v1, keyed by the game key, whenever a team's list changes.

The files source derives it from the bundled box scores (`availability_rows`, a stand-in for
the inactive list and the injury report; its limits are in that module). A live source (the
NBA's official injury report) is still to come: nba_api has no such endpoint.
"""

import asyncio
import datetime as dt
import time
from collections.abc import Iterator
from typing import Protocol

from statmuse_ingestor import feeds
from statmuse_ingestor.availability_rows import Reported, normalise_availability
from statmuse_ingestor.backfill import Counts
from statmuse_ingestor.ports import FeedItem
from statmuse_ingestor.runtime import IngestorRuntime
from statmuse_ingestor.sources import RawRow
from statmuse_shared.contract import topics
from statmuse_shared.contract.messages import AvailabilityReported


class AvailabilitySource(Protocol):
    name: str

    def availability_rows(
        self, season: str, *, date_from: dt.date | None = None, date_to: dt.date | None = None
    ) -> Iterator[RawRow]: ...


class AvailabilitySummary(Counts):
    """An availability run's counts (stored: team lists new or changed)."""


def _read(
    source: AvailabilitySource,
    seasons: list[str],
    date_from: dt.date | None,
    date_to: dt.date | None,
) -> tuple[list[Reported], list[tuple[RawRow, str]], int]:
    reports: list[Reported] = []
    rejects: list[tuple[RawRow, str]] = []
    read = 0
    for season in seasons:
        rows = list(source.availability_rows(season, date_from=date_from, date_to=date_to))
        read += len(rows)
        good, bad = normalise_availability(rows, source=source.name)
        reports += good
        rejects += bad
    return reports, rejects, read


async def ingest_availability(
    rt: IngestorRuntime,
    *,
    source: AvailabilitySource,
    seasons: list[str],
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> AvailabilitySummary:
    """Read each team's list for every game of the seasons (between the dates, when given),
    store the lists that changed and publish them; a team's list with a row that is not
    valid goes to nba.availability.v1.dlq, every row of it, with the reason."""
    started = time.perf_counter()
    summary = AvailabilitySummary()
    reports, rejects, summary.read = await asyncio.to_thread(
        _read, source, seasons, date_from, date_to
    )
    items = [
        FeedItem(
            f"{r.report.game_key}:{r.report.team}",
            r.report.game_date,
            r.checksum,
            r.report.model_dump_json(),
        )
        for r in reports
    ]
    await feeds.ingest(
        rt, channel(rt), source=source.name, items=items, rejects=rejects, summary=summary
    )
    summary.seconds = time.perf_counter() - started
    return summary


def channel(rt: IngestorRuntime) -> feeds.Channel[AvailabilityReported]:
    """Availability's feed: keyed by game key on the topic, one item per game and team."""
    return feeds.Channel(
        feed="availability",
        topic=topics.AVAILABILITY,
        publisher=rt.publish_availability,
        rejects=rt.publish_availability_rejects,
        model=AvailabilityReported,
        key=lambda r: topics.game_key_key(r.game_key),
        reject_key="GAME_KEY",
    )
