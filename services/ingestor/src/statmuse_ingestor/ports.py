"""What the ingestor's runs and reports need from storage, as interfaces: PostgreSQL implements
them in `adapters/` (`PostgresIngest`, `PostgresReports`), the unit tests in memory.

The box-score tables are the outbox: rows are stored with no publication mark, `unpublished`
reads them back in game-date order and `mark_published` marks what the broker acknowledged.
"""

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple, Protocol

from statmuse_ingestor.outliers import Running
from statmuse_ingestor.quality import Quality
from statmuse_ingestor.service import Normalised, NormalisedTeam
from statmuse_ingestor.sources import RawRow

Kind = Literal["player", "team"]
RunStatus = Literal["succeeded", "failed"]
Reject = tuple[str, str, dict[str, str]]  # (location, reason, the record as received)


class StoreResult(NamedTuple):
    stored: int  # new or changed (queued for publishing)
    unchanged: int  # identical to what was stored before


class Unpublished(NamedTuple):
    """A stored box score not yet acknowledged by the broker."""

    kind: Kind
    game_date: dt.date
    game_key: str
    subject: str  # the player id (as text) or the team abbreviation: the row's second key
    payload: str  # the stored event, JSON


class IngestRepository(Protocol):
    """What an ingest run writes, and the outbox it publishes from."""

    async def start_run(self, *, source: str, params: Mapping[str, object]) -> uuid.UUID: ...

    async def finish_run(
        self,
        *,
        run_id: uuid.UUID,
        status: RunStatus,
        counts: Mapping[str, int],
        error: str | None = None,
    ) -> None: ...

    async def store_raw(
        self, *, source: str, kind: Kind, rows: Sequence[tuple[RawRow, str]]
    ) -> int:
        """The audit trail: each (record, checksum) as received, once per (source, checksum)."""
        ...

    async def prior_history(
        self, *, before: dt.date, player_ids: Sequence[int]
    ) -> dict[tuple[int, str], Running]:
        """Each player's count, mean and sd per outlier stat over games before `before`."""
        ...

    async def store_player_games(self, rows: Sequence[Normalised]) -> StoreResult:
        """Upsert on (game, player); a changed row (new checksum) is queued again for
        publishing, an identical one is left untouched."""
        ...

    async def store_team_games(self, rows: Sequence[NormalisedTeam]) -> StoreResult:
        """Upsert on (game, team), like `store_player_games`."""
        ...

    async def record_rejects(
        self, *, run_id: uuid.UUID, source: str, rejects: Sequence[Reject]
    ) -> None: ...

    async def unpublished(self, *, limit: int) -> list[Unpublished]:
        """The oldest unpublished box scores (at most `limit` player rows, and the team rows up
        to their last day), players and teams interleaved by game date, players first."""
        ...

    async def mark_published(self, rows: Sequence[Unpublished]) -> None:
        """Mark these rows published, all of them or none."""
        ...

    async def last_game_date(self) -> dt.date | None: ...

    async def known_players(self) -> list[tuple[int, str, str]]:
        """Every player with a stored box score: (id, name, team of the latest one)."""
        ...


Feed = Literal["schedule", "availability", "lines"]


class FeedItem(NamedTuple):
    """One item of a feed: the latest its source gave under the item's natural key."""

    key: str  # the schedule's: the game id
    game_date: dt.date  # items are published in game-date order
    checksum: str  # of the content (not of who gave it)
    payload: str  # the event, JSON


class FeedRepository(Protocol):
    """The feeds (the schedule, availability, lines), each item the latest under its key, and
    their outbox (like the box scores')."""

    async def store_feed(self, feed: Feed, items: Sequence[FeedItem]) -> StoreResult:
        """Upsert on the key; an item whose content (checksum) changed is queued again for
        publishing, an identical one is left untouched."""
        ...

    async def unpublished_feed(self, feed: Feed, *, limit: int) -> list[FeedItem]:
        """The oldest unpublished items, by game date and key."""
        ...

    async def mark_feed_published(self, feed: Feed, items: Sequence[FeedItem]) -> None:
        """Mark these items published, unless they changed since they were read."""
        ...


@dataclass(frozen=True, slots=True)
class RunSummary:
    """An ingest run as `statmuse-ingestor status` shows it."""

    status: str
    source: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    rows_read: int | None
    rows_stored: int | None
    rows_rejected: int | None
    rows_flagged: int | None
    events_published: int | None


@dataclass(frozen=True, slots=True)
class IngestStatus:
    last_game_date: dt.date | None
    runs: list[RunSummary]  # the last successful and the last unsuccessful run, if any
    unpublished: int  # rows waiting to be published
    reject_reasons: list[tuple[str, int]]  # the ten commonest reasons (kind: reason), counts


class ReportRepository(Protocol):
    """What the data-quality measurement and the operator's status read and keep."""

    async def quality_counts(self, *, since: dt.datetime, until: dt.datetime) -> Quality:
        """Counts of the runs started in (since, until], and the newest game stored, as
        measured at `until`."""
        ...

    async def record_quality(self, quality: Quality, *, window_hours: int) -> None:
        """Keep a measurement (one per measurement time)."""
        ...

    async def status(self) -> IngestStatus: ...
