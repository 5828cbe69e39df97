"""In-memory stand-ins for the ingestor's ports (see statmuse_ingestor.ports) and a source of
rows in memory."""

import datetime as dt
import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from statmuse_ingestor.app import build_runtime
from statmuse_ingestor.availability_rows import absences_from_box_scores
from statmuse_ingestor.outliers import OUTLIER_STATS, Running
from statmuse_ingestor.ports import (
    Feed,
    FeedItem,
    IngestStatus,
    Kind,
    Reject,
    RunStatus,
    StoreResult,
    Unpublished,
)
from statmuse_ingestor.quality import Quality
from statmuse_ingestor.runtime import IngestorRuntime
from statmuse_ingestor.schedule_rows import from_box_scores
from statmuse_ingestor.service import Normalised, NormalisedTeam
from statmuse_ingestor.settings import IngestorSettings
from statmuse_ingestor.sources import RawRow, SourceError


@dataclass
class Stored:
    """A box-score row: its content, checksum and whether the broker has it."""

    kind: Kind
    game_date: dt.date
    game_key: str
    subject: str
    checksum: str
    payload: str
    published: bool = False


@dataclass
class Run:
    source: str
    params: Mapping[str, object]
    status: str = "running"
    counts: Mapping[str, int] = field(default_factory=dict)
    error: str | None = None


class InMemoryIngest:
    """The ingest tables in dicts, with the upsert and outbox semantics of PostgresIngest."""

    def __init__(self) -> None:
        self.rows: dict[tuple[Kind, str, str], Stored] = {}
        self.raw: dict[tuple[str, str], tuple[Kind, RawRow]] = {}
        self.runs: dict[uuid.UUID, Run] = {}
        self.rejects: list[tuple[uuid.UUID, str, str, str]] = []  # run, source, location, reason

    async def start_run(self, *, source: str, params: Mapping[str, object]) -> uuid.UUID:
        run_id = uuid.uuid4()
        self.runs[run_id] = Run(source, dict(params))
        return run_id

    async def finish_run(
        self,
        *,
        run_id: uuid.UUID,
        status: RunStatus,
        counts: Mapping[str, int],
        error: str | None = None,
    ) -> None:
        run = self.runs[run_id]
        run.status, run.counts, run.error = status, dict(counts), error

    async def store_raw(
        self, *, source: str, kind: Kind, rows: Sequence[tuple[RawRow, str]]
    ) -> int:
        new = 0
        for row, checksum in rows:
            if (source, checksum) not in self.raw:
                self.raw[(source, checksum)] = (kind, row)
                new += 1
        return new

    async def prior_history(
        self, *, before: dt.date, player_ids: Sequence[int]
    ) -> dict[tuple[int, str], Running]:
        wanted = set(player_ids)
        out: dict[tuple[int, str], Running] = {}
        for r in self.rows.values():
            if r.kind == "player" and int(r.subject) in wanted and r.game_date < before:
                game = json.loads(r.payload)
                for stat in OUTLIER_STATS:
                    out.setdefault((int(r.subject), stat), Running()).add(float(game[stat]))
        return out

    def _upsert(self, kind: Kind, game: Any, subject: str, checksum: str) -> bool:
        key = (kind, game.game_key, subject)
        known = self.rows.get(key)
        if known is not None and known.checksum == checksum:
            return False
        self.rows[key] = Stored(
            kind, game.game_date, game.game_key, subject, checksum, game.model_dump_json()
        )
        return True

    async def store_player_games(self, rows: Sequence[Normalised]) -> StoreResult:
        stored = sum(
            self._upsert("player", n.game, str(n.game.player_id), n.checksum) for n in rows
        )
        unique = len({(n.game.game_key, n.game.player_id) for n in rows})
        return StoreResult(stored, unique - stored)

    async def store_team_games(self, rows: Sequence[NormalisedTeam]) -> StoreResult:
        stored = sum(self._upsert("team", n.game, n.game.team, n.checksum) for n in rows)
        unique = len({(n.game.game_key, n.game.team) for n in rows})
        return StoreResult(stored, unique - stored)

    async def record_rejects(
        self, *, run_id: uuid.UUID, source: str, rejects: Sequence[Reject]
    ) -> None:
        self.rejects += [(run_id, source, location, reason) for location, reason, _ in rejects]

    async def unpublished(self, *, limit: int) -> list[Unpublished]:
        def waiting(kind: Kind) -> list[Stored]:
            rows = [r for r in self.rows.values() if r.kind == kind and not r.published]
            subject = (lambda r: int(r.subject)) if kind == "player" else (lambda r: r.subject)
            return sorted(rows, key=lambda r: (r.game_date, r.game_key, subject(r)))

        players = waiting("player")[:limit]
        cutoff = players[-1].game_date if len(players) == limit else None
        teams = [r for r in waiting("team") if cutoff is None or r.game_date <= cutoff][:limit]
        out = [
            Unpublished(r.kind, r.game_date, r.game_key, r.subject, r.payload)
            for r in [*players, *teams]
        ]
        return sorted(out, key=lambda r: (r.game_date, r.kind))

    async def mark_published(self, rows: Sequence[Unpublished]) -> None:
        for r in rows:
            self.rows[(r.kind, r.game_key, r.subject)].published = True

    async def last_game_date(self) -> dt.date | None:
        days = [r.game_date for r in self.rows.values() if r.kind == "player"]
        return max(days, default=None)

    async def known_players(self) -> list[tuple[int, str, str]]:
        """As ingest.players: each player's name and team from his latest stored box score."""
        latest: dict[int, tuple[dt.date, str, str]] = {}
        for r in self.rows.values():
            if r.kind != "player":
                continue
            game = json.loads(r.payload)
            seen = latest.get(game["player_id"])
            if seen is None or r.game_date >= seen[0]:
                latest[game["player_id"]] = (r.game_date, game["player_name"], game["team"])
        return [(pid, name, team) for pid, (_, name, team) in sorted(latest.items())]

    def waiting(self) -> list[tuple[Kind, str, str]]:
        """The rows not yet published, as (kind, game key, player id or team)."""
        return sorted(
            (r.kind, r.game_key, r.subject) for r in self.rows.values() if not r.published
        )


class InMemoryFeeds:
    """The feeds table in a dict, with PostgresFeeds' upsert and outbox semantics."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], FeedItem] = {}
        self.published: set[tuple[str, str, str]] = set()  # (feed, key, checksum) acknowledged

    async def store_feed(self, feed: Feed, items: Sequence[FeedItem]) -> StoreResult:
        latest = {item.key: item for item in items}
        stored = 0
        for key, item in latest.items():
            old = self.items.get((feed, key))
            if old is None or old.checksum != item.checksum:
                self.items[(feed, key)] = item
                self.published.discard((feed, key, item.checksum))
                stored += 1
        return StoreResult(stored, len(latest) - stored)

    async def unpublished_feed(self, feed: Feed, *, limit: int) -> list[FeedItem]:
        pending = [
            item
            for (f, key), item in self.items.items()
            if f == feed and (feed, key, item.checksum) not in self.published
        ]
        pending.sort(key=lambda item: (item.game_date, item.key))
        return pending[:limit]

    async def mark_feed_published(self, feed: Feed, items: Sequence[FeedItem]) -> None:
        for item in items:
            current = self.items.get((feed, item.key))
            if current is not None and current.checksum == item.checksum:
                self.published.add((feed, item.key, item.checksum))


class InMemoryReports:
    """Counts from the in-memory ingest tables; measurements kept in a list."""

    def __init__(self, ingest: InMemoryIngest) -> None:
        self.ingest = ingest
        self.measured: list[tuple[Quality, int]] = []

    async def quality_counts(self, *, since: dt.datetime, until: dt.datetime) -> Quality:
        runs = [r for r in self.ingest.runs.values() if r.status != "running"]
        return Quality(
            until,
            runs=len(runs),
            runs_failed=sum(r.status == "failed" for r in runs),
            rows_read=sum(r.counts.get("read", 0) for r in runs),
            rows_missing=sum(
                reason.startswith("player: missing") for *_, reason in self.ingest.rejects
            ),
            rows_rejected=sum(r.counts.get("rejected", 0) for r in runs),
            rows_flagged=sum(r.counts.get("flagged", 0) for r in runs),
            last_game_date=await self.ingest.last_game_date(),
        )

    async def record_quality(self, quality: Quality, *, window_hours: int) -> None:
        self.measured.append((quality, window_hours))

    async def status(self) -> IngestStatus:
        raise NotImplementedError("the status report is read from PostgreSQL only")


@dataclass
class MemorySource:
    """Rows by season, filtered by date like FileSource; `fail` makes player rows fail."""

    players: dict[str, list[dict[str, str]]]
    teams: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    name: str = "files"
    fail: str | None = None
    asked: list[tuple[str, str, dt.date | None, dt.date | None]] = field(default_factory=list)

    def _rows(
        self,
        kind: str,
        rows: list[dict[str, str]],
        season: str,
        date_from: dt.date | None,
        date_to: dt.date | None,
    ) -> Iterator[RawRow]:
        self.asked.append((kind, season, date_from, date_to))
        for number, record in enumerate(rows, start=1):
            day = dt.date.fromisoformat(record["GAME_DATE"][:10])
            if (date_from and day < date_from) or (date_to and day > date_to):
                continue
            yield RawRow(f"{kind}-{season}.csv:{number + 1}", dict(record))

    def player_rows(
        self, season: str, *, date_from: dt.date | None = None, date_to: dt.date | None = None
    ) -> Iterator[RawRow]:
        if self.fail is not None:
            raise SourceError(self.fail)
        return self._rows("player", self.players.get(season, []), season, date_from, date_to)

    def team_rows(
        self, season: str, *, date_from: dt.date | None = None, date_to: dt.date | None = None
    ) -> Iterator[RawRow]:
        if season not in self.teams:
            raise SourceError(f"no team game log for {season}")
        return self._rows("team", self.teams[season], season, date_from, date_to)

    def schedule_rows(
        self, season: str, *, date_from: dt.date | None = None, date_to: dt.date | None = None
    ) -> Iterator[RawRow]:
        """As FileSource: the games the team rows imply, or the player rows without them."""
        window = {"date_from": date_from, "date_to": date_to}
        if season in self.teams:
            return from_box_scores(self.team_rows(season, **window))
        return from_box_scores(self.player_rows(season, **window))

    def availability_rows(
        self, season: str, *, date_from: dt.date | None = None, date_to: dt.date | None = None
    ) -> Iterator[RawRow]:
        """As FileSource: the stand-in over the whole season, then the window."""
        lo, hi = (date_from or dt.date.min).isoformat(), (date_to or dt.date.max).isoformat()
        rows = absences_from_box_scores(self.player_rows(season))
        return (r for r in rows if lo <= r.record["GAME_DATE"] <= hi)


RAW_PARTITIONS = 3  # of nba.games.raw.v1, in the in-memory runtime


def memory_runtime(**options: Any) -> IngestorRuntime:
    """The service's runtime over the in-memory ports (no database, broker not connected);
    `options`: settings fields, and `build_runtime`'s own (`db`, `sources`). The raw topic
    has `RAW_PARTITIONS` partitions."""
    wiring = {k: options.pop(k) for k in ("db", "sources") if k in options}
    ingest = InMemoryIngest()

    async def partitions() -> int:
        return RAW_PARTITIONS

    return build_runtime(
        IngestorSettings(database_url="postgresql://unused@localhost/none", **options),
        ingest=ingest,
        reports=InMemoryReports(ingest),
        feeds=InMemoryFeeds(),
        games_partitions=partitions,
        **wiring,
    )


@dataclass
class FakeTime:
    """A clock that moves only when slept on: the token bucket's and the retries' time."""

    now: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
