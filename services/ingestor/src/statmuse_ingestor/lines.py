"""Prop lines: every book's over/under on a player's stat, stored and published as a feed
(`feeds`) on nba.lines.v1, keyed by the player, whenever a book posts or moves a line.

Sources: the bundled `prop_lines` files (`FileSource.lines_rows`), or The Odds API live
(`odds_api_source`); `lines_rows` validates both and matches the books' names to the players
the ingestor has box scores of, so the lines of a player never seen stay keyed by name.
"""

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from statmuse_ingestor import feeds
from statmuse_ingestor.backfill import Counts
from statmuse_ingestor.lines_rows import (
    PostedLine,
    line_key,
    normalise_line_row,
    rosters,
)
from statmuse_ingestor.ports import FeedItem
from statmuse_ingestor.runtime import IngestorRuntime
from statmuse_ingestor.service import RejectedRow
from statmuse_ingestor.sources import RawRow
from statmuse_shared.contract import topics
from statmuse_shared.contract.messages import PropLinePosted
from statmuse_shared.contract.names import normalize_name

log = logging.getLogger(__name__)


class LinesSource(Protocol):
    name: str

    def lines_rows(
        self, season: str, *, date_from: dt.date | None = None, date_to: dt.date | None = None
    ) -> Iterator[RawRow]: ...


@dataclass
class LinesSummary(Counts):
    """A lines run's counts; how many lines name a player no box score has matched; how many
    the run read twice with different values (the last read is kept)."""

    unmatched: int = 0
    conflicting: int = 0

    def counts(self) -> dict[str, int]:
        return super().counts() | {"unmatched": self.unmatched, "conflicting": self.conflicting}


def _read(
    source: LinesSource,
    seasons: list[str],
    date_from: dt.date | None,
    date_to: dt.date | None,
    players: Sequence[tuple[int, str, str]],
) -> tuple[list[PostedLine], list[tuple[RawRow, str]], int]:
    """Every season's rows, normalised and matched to `players` (in a worker thread: the
    source may block, and normalising names is CPU)."""
    known = rosters(players)
    lines: list[PostedLine] = []
    rejects: list[tuple[RawRow, str]] = []
    read = 0
    for season in seasons:
        for raw in source.lines_rows(season, date_from=date_from, date_to=date_to):
            read += 1
            try:
                lines.append(normalise_line_row(raw.record, source=source.name, known=known))
            except RejectedRow as exc:
                rejects.append((raw, exc.reason))
    return lines, rejects, read


def topic_key(line: PropLinePosted) -> bytes:
    """The player's key, or the name's while no box score has matched it."""
    if line.player_id is not None:
        return topics.player_key(line.player_id)
    return topics.unmatched_player_key(normalize_name(line.player_name))


def channel(rt: IngestorRuntime) -> feeds.Channel[PropLinePosted]:
    """The lines' feed: one item per odds event, player, stat and book; keyed by player."""
    return feeds.Channel(
        feed="lines",
        topic=topics.LINES,
        publisher=rt.publish_lines,
        rejects=rt.publish_lines_rejects,
        model=PropLinePosted,
        key=topic_key,
        reject_key="player_name",
    )


async def ingest_lines(
    rt: IngestorRuntime,
    *,
    source: LinesSource,
    seasons: list[str],
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> LinesSummary:
    """Read the seasons' lines (between the dates, when given), store the ones posted or
    moved and publish them; a row that is not a line goes to nba.lines.v1.dlq with the
    reason."""
    started = time.perf_counter()
    summary = LinesSummary()
    players = await rt.ingest.known_players()
    lines, rejects, summary.read = await asyncio.to_thread(
        _read, source, seasons, date_from, date_to, players
    )
    latest: dict[str, PostedLine] = {}
    for posted in lines:
        key = line_key(posted.line)
        seen = latest.get(key)
        if seen is not None and seen.checksum != posted.checksum:
            summary.conflicting += 1
        latest[key] = posted
    if summary.conflicting:
        log.warning(
            "%d lines read twice with different values (same event, player, stat and book); "
            "kept the last read",
            summary.conflicting,
        )
    summary.unmatched = sum(1 for p in latest.values() if p.line.player_id is None)
    items = [
        FeedItem(key, p.line.game_date, p.checksum, p.line.model_dump_json())
        for key, p in latest.items()
    ]
    await feeds.ingest(
        rt, channel(rt), source=source.name, items=items, rejects=rejects, summary=summary
    )
    summary.seconds = time.perf_counter() - started
    return summary
