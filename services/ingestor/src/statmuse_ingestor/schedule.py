"""The schedule: which games are to be played, when, and whether they still are.

Sources give it as RawRows with the columns `schedule_rows` reads:
- files (`schedule_rows.from_box_scores`): derived from the box-score files. Every game with a
  box score was on the schedule, so a replay can treat any past day as "today". Its status is
  "scheduled": the schedule as it stood before the games, whose results arrive as box scores.
- nba_api (`NbaApiSource.schedule_rows`): ScheduleLeagueV2, a season's whole schedule in one
  call, with each game's status and postponement.

`schedule_rows.normalise_schedule_row` makes a row a `GameScheduled` or says why not (pure);
`ingest_schedule` stores the games (a game is stored again only when something in
it changed) and publishes the changed ones on nba.schedule.v1 from that outbox, like the box
scores.
"""

import asyncio
import datetime as dt
import time

from statmuse_ingestor import feeds, metrics
from statmuse_ingestor.backfill import Counts
from statmuse_ingestor.ports import FeedItem
from statmuse_ingestor.runtime import IngestorRuntime
from statmuse_ingestor.schedule_rows import ScheduledGame, normalise_schedule_row
from statmuse_ingestor.service import RejectedRow
from statmuse_ingestor.sources import RawRow, Source
from statmuse_shared.contract import topics
from statmuse_shared.contract.messages import GameScheduled


class ScheduleSummary(Counts):
    """A schedule run's counts."""


def _read(
    source: Source, seasons: list[str], date_from: dt.date | None, date_to: dt.date | None
) -> tuple[list[ScheduledGame], list[tuple[RawRow, str]], int]:
    """Every season's rows, normalised (in a worker thread: the source may block)."""
    games: list[ScheduledGame] = []
    rejects: list[tuple[RawRow, str]] = []
    read = 0
    for season in seasons:
        for raw in source.schedule_rows(season, date_from=date_from, date_to=date_to):
            read += 1
            try:
                games.append(normalise_schedule_row(raw.record, source=source.name))
            except RejectedRow as exc:
                rejects.append((raw, exc.reason))
    return games, rejects, read


async def ingest_schedule(
    rt: IngestorRuntime,
    *,
    source: Source,
    seasons: list[str],
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> ScheduleSummary:
    """Read the seasons' schedule (between the dates, when given), store what changed and
    publish it; rows that are not a valid game go to nba.schedule.v1.dlq with the reason."""
    started = time.perf_counter()
    summary = ScheduleSummary()
    games, rejects, summary.read = await asyncio.to_thread(
        _read, source, seasons, date_from, date_to
    )
    items = [
        FeedItem(g.game.game_id, g.game.game_date, g.checksum, g.game.model_dump_json())
        for g in games
    ]
    await feeds.ingest(
        rt, channel(rt), source=source.name, items=items, rejects=rejects, summary=summary
    )
    summary.seconds = time.perf_counter() - started
    metrics.SCHEDULE_GAMES.labels(source.name, "stored").inc(summary.stored)
    metrics.SCHEDULE_GAMES.labels(source.name, "rejected").inc(summary.rejected)
    return summary


def channel(rt: IngestorRuntime) -> feeds.Channel[GameScheduled]:
    """The schedule's feed: keyed by game id on the topic."""
    return feeds.Channel(
        feed="schedule",
        topic=topics.SCHEDULE,
        publisher=rt.publish_schedule,
        rejects=rt.publish_schedule_rejects,
        model=GameScheduled,
        key=lambda g: topics.game_id_key(g.game_id),
        reject_key="GAME_ID",
    )
