"""Ingest runs: a source's seasons (or a date window) -> validated rows in `ingest` -> events.

PostgreSQL is the source of truth. Rows are committed first; events are published from the
rows still marked unpublished (the tables are the outbox), so a crash between commit and
publish heals on the next run. Storage is the runtime's `IngestRepository` and
`ReportRepository`; publishing goes through its declared publishers.
"""

import asyncio
import base64
import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import asyncpg

from statmuse_ingestor import metrics, quality
from statmuse_ingestor.outliers import flag_outliers
from statmuse_ingestor.ports import (
    Kind,
    Reject,
    ReportRepository,
    Unpublished,
)
from statmuse_ingestor.runtime import IngestorRuntime
from statmuse_ingestor.service import (
    Normalised,
    NormalisedTeam,
    RejectedRow,
    normalise_player_row,
    normalise_team_row,
    row_checksum,
)
from statmuse_ingestor.sources import RawRow, Source, SourceError
from statmuse_shared.contract import topics
from statmuse_shared.contract.messages import (
    DeadLetter,
    PlayerGameIngested,
    RawGame,
    TeamGameIngested,
)
from statmuse_shared.contract.seasons import season_of
from statmuse_shared.platform.broker import publish_many

log = logging.getLogger(__name__)

BATCH = 5000
ACK_SECONDS = 120.0  # per chunk of messages sent (platform.broker.publish_many)
Progress = Callable[[str, int], None]  # (phase, rows done in this step)


@dataclass
class Counts:
    """What a run read, stored, left unchanged, rejected (with the reasons) and published."""

    read: int = 0
    stored: int = 0
    unchanged: int = 0
    rejected: int = 0
    published: int = 0
    seconds: float = 0.0
    reject_reasons: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {
            "read": self.read,
            "stored": self.stored,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "published": self.published,
        }

    def rejection(
        self,
        *,
        topic: str,
        source: str,
        location: str,
        reason: str,
        record: Mapping[str, str],
        key: str | None,
        short: str,
    ) -> DeadLetter:
        """Count a rejected row under `short` and make its dead letter: the reason, where it
        was, and the record as received."""
        self.reject_reasons[short] = self.reject_reasons.get(short, 0) + 1
        self.rejected += 1
        return DeadLetter(
            original_topic=topic,
            key=key,
            payload_b64=base64.b64encode(json.dumps(record).encode()).decode("ascii"),
            error=f"{location}: {reason}",
            consumer=f"ingestor:{source}",
        )


@dataclass
class Summary(Counts):
    """A box-score run: the counts, and what only box scores have."""

    run_id: str = ""
    flagged: int = 0
    team_stored: int = 0
    messages: int = 0  # on the topic: a team box is one per partition
    warnings: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        base = super().counts()
        return {
            "read": base["read"],
            "stored": base["stored"],
            "unchanged": base["unchanged"],
            "rejected": base["rejected"],
            "flagged": self.flagged,
            "team_stored": self.team_stored,
            "published": base["published"],
            "messages": self.messages,
        }


@dataclass
class _Parsed:
    players: list[Normalised] = field(default_factory=list)
    teams: list[NormalisedTeam] = field(default_factory=list)
    raw: dict[Kind, list[tuple[RawRow, str]]] = field(
        default_factory=lambda: {"player": [], "team": []}
    )
    rejects: list[Reject] = field(default_factory=list)


def _parse(rows: Iterator[RawRow], *, source: str, kind: Kind, into: _Parsed) -> int:
    """Normalise rows (CPU only; runs in a worker thread). Returns how many were read."""
    normalise = normalise_player_row if kind == "player" else normalise_team_row
    read = 0
    for raw in rows:
        read += 1
        checksum = row_checksum(raw.record)
        into.raw[kind].append((raw, checksum))
        try:
            n = normalise(raw.record, source=source, checksum=checksum)
        except RejectedRow as exc:
            into.rejects.append((raw.location, f"{kind}: {exc.reason}", raw.record))
            continue
        if isinstance(n, Normalised):
            into.players.append(n)
        else:
            into.teams.append(n)
    return read


def _events(
    rows: Sequence[Unpublished], *, partitions: int
) -> tuple[list[tuple[bytes, RawGame]], list[int | None]]:
    """Stored box scores as they go on the topic: (key, message) and the partition of each. A
    player's goes to his key's partition; a team's to every partition, so that each partition
    holds the league in date order before its players' later games (the features service
    computes a partition's vectors with every team box before their day, instead of
    recomputing them once a team box that went elsewhere arrives)."""
    events: list[tuple[bytes, RawGame]] = []
    placed: list[int | None] = []
    for row in rows:
        if row.kind == "player":
            events.append(
                (
                    topics.player_key(int(row.subject)),
                    PlayerGameIngested.model_validate_json(row.payload),
                )
            )
            placed.append(None)
            continue
        team = TeamGameIngested.model_validate_json(row.payload)
        for partition in range(partitions):
            events.append((topics.team_key(row.subject), team))
            placed.append(partition)
    return events, placed


async def publish_outbox(
    rt: IngestorRuntime,
    *,
    chunk: int = BATCH,
    ack_seconds: float = ACK_SECONDS,
    progress: Progress | None = None,
) -> tuple[int, int]:
    """Publish every committed-but-unpublished row in game-date order, a chunk at a time, each
    chunk marked once the broker has acknowledged all of it; returns how many rows and how many
    messages (a team box is one per partition). A chunk not acknowledged in time raises
    PublishTimeout and stays unpublished for the next run."""
    rows_sent = messages = 0
    partitions: int | None = None
    while True:
        rows = await rt.ingest.unpublished(limit=chunk)
        if not rows:
            return rows_sent, messages
        if partitions is None:
            partitions = await rt.games_partitions()
        events, placed = _events(rows, partitions=partitions)
        await publish_many(rt.publish_games, events, partitions=placed, ack_seconds=ack_seconds)
        await rt.ingest.mark_published(rows)
        rows_sent += len(rows)
        messages += len(events)
        metrics.EVENTS_PUBLISHED.inc(len(rows))
        if progress:
            progress("publish", len(rows))


async def backfill(
    rt: IngestorRuntime,
    *,
    source: Source,
    seasons: list[str],
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    teams: bool = True,
    progress: Progress | None = None,
) -> Summary:
    started = time.perf_counter()
    summary = Summary()
    params: dict[str, object] = {"seasons": seasons, "teams": teams}
    if date_from or date_to:
        params.update(date_from=str(date_from), date_to=str(date_to))
    run_id = await rt.ingest.start_run(source=source.name, params=params)
    summary.run_id = str(run_id)
    try:
        # Season by season in time order, each published once stored: the topic stays in
        # date order, and consumers start on the first season while the next is read. Unless
        # an earlier run left rows unpublished (they may be of a later season): then all at
        # the end, in date order.
        per_season = not await rt.ingest.unpublished(limit=1)
        for season in sorted(seasons):
            parsed = _Parsed()
            window = {"date_from": date_from, "date_to": date_to}
            summary.read += await asyncio.to_thread(
                _parse,
                source.player_rows(season, **window),
                source=source.name,
                kind="player",
                into=parsed,
            )
            if teams:
                try:
                    await asyncio.to_thread(
                        _parse,
                        source.team_rows(season, **window),
                        source=source.name,
                        kind="team",
                        into=parsed,
                    )
                except SourceError as exc:
                    summary.warnings.append(str(exc))
                    log.warning("no team rows: %s", exc)
            if progress:
                progress("read", sum(map(len, parsed.raw.values())))
            await _store_season(rt, source.name, parsed, summary, progress)
            await _reject(rt, run_id, source.name, parsed.rejects, summary)
            if per_season:
                published, messages = await publish_outbox(rt, progress=progress)
                summary.published += published
                summary.messages += messages
        if not per_season or not seasons:
            summary.published, summary.messages = await publish_outbox(rt, progress=progress)
    except Exception as exc:
        await rt.ingest.finish_run(
            run_id=run_id, status="failed", counts=summary.counts(), error=repr(exc)
        )
        metrics.SOURCE_FAILURES.labels(source.name).inc()
        await _measure_after_run(rt.reports)
        raise
    summary.seconds = time.perf_counter() - started
    await rt.ingest.finish_run(run_id=run_id, status="succeeded", counts=summary.counts())
    await _measure_after_run(rt.reports)
    metrics.RUN_SECONDS.labels(source.name).observe(summary.seconds)
    return summary


async def ingest_day(rt: IngestorRuntime, *, source: Source, day: dt.date) -> Summary:
    """One day's games (player and team box scores) from a source: the daily job."""
    return await backfill(rt, source=source, seasons=[season_of(day)], date_from=day, date_to=day)


async def measure_quality(
    reports: ReportRepository,
    *,
    now: dt.datetime | None = None,
    window: dt.timedelta = quality.WINDOW,
) -> quality.Quality:
    """Measure, keep and export the data quality of the runs started in the last `window`."""
    now = now or dt.datetime.now(dt.UTC)
    q = await reports.quality_counts(since=now - window, until=now)
    await reports.record_quality(q, window_hours=quality.window_hours(window))
    quality.export(q)
    return q


async def _measure_after_run(reports: ReportRepository) -> None:
    """After every run, failed ones included; a measurement that fails never fails the run."""
    try:
        await measure_quality(reports)
    except (asyncpg.PostgresError, OSError) as exc:
        log.warning("data quality not measured: %s", exc)


async def _store_season(
    rt: IngestorRuntime,
    source: str,
    parsed: _Parsed,
    summary: Summary,
    progress: Progress | None,
) -> None:
    players = sorted(
        parsed.players, key=lambda n: (n.game.game_date, n.game.game_key, n.game.player_id)
    )
    if players:
        prior = await rt.ingest.prior_history(
            before=players[0].game.game_date,
            player_ids=list({n.game.player_id for n in players}),
        )
        players = flag_outliers(players, prior)
    flagged = sum(1 for n in players if n.game.flagged)
    flagged += sum(1 for n in parsed.teams if n.game.flagged)
    for kind, raw in parsed.raw.items():
        if raw:
            await rt.ingest.store_raw(source=source, kind=kind, rows=raw)
    stored_before = summary.stored
    for start in range(0, len(players), BATCH):
        chunk = players[start : start + BATCH]
        result = await rt.ingest.store_player_games(chunk)
        summary.stored += result.stored
        summary.unchanged += result.unchanged
        if progress:
            progress("store", len(chunk))
    if parsed.teams:
        result = await rt.ingest.store_team_games(parsed.teams)
        summary.team_stored += result.stored
        if progress:
            progress("store", len(parsed.teams))
    summary.flagged += flagged
    metrics.ROWS.labels(source, "stored").inc(summary.stored - stored_before)
    metrics.ROWS.labels(source, "flagged").inc(flagged)


async def _reject(
    rt: IngestorRuntime,
    run_id: uuid.UUID,
    source: str,
    rejects: list[Reject],
    summary: Summary,
) -> None:
    if not rejects:
        return
    await rt.ingest.record_rejects(run_id=run_id, source=source, rejects=rejects)
    letters = [
        summary.rejection(
            topic=topics.GAMES_RAW,
            source=source,
            location=location,
            reason=reason,
            record=record,
            key=record.get("PLAYER_ID") or record.get("TEAM_ABBREVIATION") or None,
            short=":".join(reason.split(":")[:2]),
        )
        for location, reason, record in rejects
    ]
    await publish_many(rt.publish_rejects, [(b"rejected", letter) for letter in letters])
    metrics.ROWS.labels(source, "rejected").inc(len(rejects))
    log.warning("rejected %d rows", len(rejects), extra={"run_id": str(run_id)})
