"""Ingest runs: a source's seasons (or a date window) -> validated rows in `ingest` -> events.

PostgreSQL is the source of truth. Rows are committed first; events are published from the
rows still marked unpublished (the tables are the outbox), so a crash between commit and
publish heals on the next run.
"""

import asyncio
import base64
import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import asyncpg
from faststream.kafka import KafkaBroker
from pydantic import BaseModel

from statmuse_ingestor import metrics, quality
from statmuse_ingestor.adapters import postgres as db
from statmuse_ingestor.outliers import flag_outliers
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
from statmuse_shared.contract.messages import DeadLetter, PlayerGameIngested, TeamGameIngested
from statmuse_shared.platform.legacy import publish_many

log = logging.getLogger(__name__)

BATCH = 5000
Progress = Callable[[str, int], None]  # (phase, rows done in this step)
Reject = tuple[str, str, dict[str, str]]  # (location, reason, record)


@dataclass
class Summary:
    run_id: str = ""
    read: int = 0
    stored: int = 0
    unchanged: int = 0
    rejected: int = 0
    flagged: int = 0
    team_stored: int = 0
    published: int = 0
    seconds: float = 0.0
    reject_reasons: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "read": self.read,
            "stored": self.stored,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "flagged": self.flagged,
            "team_stored": self.team_stored,
            "published": self.published,
        }


@dataclass
class _Parsed:
    players: list[Normalised] = field(default_factory=list)
    teams: list[NormalisedTeam] = field(default_factory=list)
    raw: dict[str, list[tuple[RawRow, str]]] = field(
        default_factory=lambda: {"player": [], "team": []}
    )
    rejects: list[Reject] = field(default_factory=list)


def _parse(rows: Iterator[RawRow], *, source: str, kind: str, into: _Parsed) -> int:
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


async def publish_outbox(
    *,
    pool: asyncpg.Pool,
    broker: KafkaBroker,
    chunk: int = BATCH,
    progress: Progress | None = None,
) -> int:
    """Publish every committed-but-unpublished row in game-date order; returns how many."""
    total = 0
    while True:
        async with pool.acquire() as conn:
            rows = await db.fetch_unpublished(conn=conn, limit=chunk)
        if not rows:
            return total
        items: list[tuple[str, bytes, BaseModel]] = []
        done: dict[db.Table, list[tuple[str, object]]] = {
            "player_game_stats": [],
            "team_game_stats": [],
        }
        for r in rows:
            if r["tbl"] == "player_game_stats":
                event: BaseModel = PlayerGameIngested.model_validate_json(r["payload"])
                key = topics.player_key(int(r["k2"]))
                done["player_game_stats"].append((r["k1"], int(r["k2"])))
            else:
                event = TeamGameIngested.model_validate_json(r["payload"])
                key = topics.team_key(r["k2"])
                done["team_game_stats"].append((r["k1"], r["k2"]))
            items.append((topics.GAMES_RAW, key, event))
        await publish_many(broker, items)
        async with pool.acquire() as conn, conn.transaction():
            for table, keys in done.items():
                if keys:
                    await db.mark_published(conn=conn, table=table, keys=keys)
        total += len(rows)
        metrics.EVENTS_PUBLISHED.inc(len(rows))
        if progress:
            progress("publish", len(rows))


async def backfill(
    *,
    pool: asyncpg.Pool,
    broker: KafkaBroker,
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
    async with pool.acquire() as conn:
        run_id = await db.start_run(conn=conn, source=source.name, params=params)
    summary.run_id = str(run_id)
    try:
        for season in seasons:
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
            await _store_season(pool, source.name, parsed, summary, progress)
            await _reject(pool, broker, run_id, source.name, parsed.rejects, summary)
        summary.published = await publish_outbox(pool=pool, broker=broker, progress=progress)
    except Exception as exc:
        async with pool.acquire() as conn:
            await db.finish_run(
                conn=conn, run_id=run_id, status="failed", counts=summary.counts(), error=repr(exc)
            )
        metrics.SOURCE_FAILURES.labels(source.name).inc()
        await _measure_quality(pool)
        raise
    summary.seconds = time.perf_counter() - started
    async with pool.acquire() as conn:
        await db.finish_run(conn=conn, run_id=run_id, status="succeeded", counts=summary.counts())
    await _measure_quality(pool)
    metrics.RUN_SECONDS.labels(source.name).observe(summary.seconds)
    return summary


async def _measure_quality(pool: asyncpg.Pool) -> None:
    """After every run, failed ones included; a measurement that fails never fails the run."""
    try:
        async with pool.acquire() as conn:
            await quality.measure(conn)
    except (asyncpg.PostgresError, OSError) as exc:
        log.warning("data quality not measured: %s", exc)


async def _store_season(
    pool: asyncpg.Pool,
    source: str,
    parsed: _Parsed,
    summary: Summary,
    progress: Progress | None,
) -> None:
    players = sorted(
        parsed.players, key=lambda n: (n.game.game_date, n.game.game_key, n.game.player_id)
    )
    if players:
        async with pool.acquire() as conn:
            prior = await db.prior_history(
                conn=conn,
                before=players[0].game.game_date,
                player_ids=list({n.game.player_id for n in players}),
            )
        players = flag_outliers(players, prior)
    flagged = sum(1 for n in players if n.game.flagged)
    flagged += sum(1 for n in parsed.teams if n.game.flagged)
    async with pool.acquire() as conn:
        for kind, raw in parsed.raw.items():
            if raw:
                await db.store_raw(conn=conn, source=source, kind=kind, rows=raw)
    stored_before = summary.stored
    for start in range(0, len(players), BATCH):
        chunk = players[start : start + BATCH]
        async with pool.acquire() as conn:
            result = await db.store_player_games(conn=conn, rows=chunk)
        summary.stored += result.stored
        summary.unchanged += result.unchanged
        if progress:
            progress("store", len(chunk))
    if parsed.teams:
        async with pool.acquire() as conn:
            result = await db.store_team_games(conn=conn, rows=parsed.teams)
        summary.team_stored += result.stored
        if progress:
            progress("store", len(parsed.teams))
    summary.flagged += flagged
    metrics.ROWS.labels(source, "stored").inc(summary.stored - stored_before)
    metrics.ROWS.labels(source, "flagged").inc(flagged)


async def _reject(
    pool: asyncpg.Pool,
    broker: KafkaBroker,
    run_id: uuid.UUID,
    source: str,
    rejects: list[Reject],
    summary: Summary,
) -> None:
    if not rejects:
        return
    async with pool.acquire() as conn:
        await db.record_rejects(conn=conn, run_id=run_id, source=source, rejects=rejects)
    letters = []
    for location, reason, record in rejects:
        short = reason.split(":")[0] + ":" + reason.split(":")[1] if ":" in reason else reason
        summary.reject_reasons[short] = summary.reject_reasons.get(short, 0) + 1
        letters.append(
            DeadLetter(
                original_topic=topics.GAMES_RAW,
                key=record.get("PLAYER_ID") or record.get("TEAM_ABBREVIATION") or None,
                payload_b64=base64.b64encode(json.dumps(record).encode()).decode("ascii"),
                error=f"{location}: {reason}",
                consumer=f"ingestor:{source}",
            )
        )
    await publish_many(
        broker, [(topics.dead_letter(topics.GAMES_RAW), b"rejected", letter) for letter in letters]
    )
    summary.rejected += len(rejects)
    metrics.ROWS.labels(source, "rejected").inc(len(rejects))
    log.warning("rejected %d rows", len(rejects), extra={"run_id": str(run_id)})
