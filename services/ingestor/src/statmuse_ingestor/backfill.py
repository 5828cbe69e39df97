"""Backfill: a source's seasons -> validated rows in `ingest` -> events, via the outbox.

PostgreSQL is the source of truth. Rows are committed first; events are published from the
rows still marked unpublished, so a crash between commit and publish heals on the next run.
"""

import base64
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import asyncpg
from faststream.kafka import KafkaBroker

from statmuse_ingestor import metrics
from statmuse_ingestor.adapters import postgres as db
from statmuse_ingestor.service import Normalised, RejectedRow, normalise_player_row
from statmuse_ingestor.sources import Source
from statmuse_shared import topics
from statmuse_shared.broker import publish_many
from statmuse_shared.messages import DeadLetter, PlayerGameIngested

log = logging.getLogger(__name__)

BATCH = 5000
Progress = Callable[[str, int], None]  # (phase, rows done in this step)


@dataclass
class Summary:
    run_id: str = ""
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
        items = [
            (
                topics.GAMES_RAW,
                topics.player_key(r["player_id"]),
                PlayerGameIngested.model_validate_json(r["payload"]),
            )
            for r in rows
        ]
        await publish_many(broker, items)
        async with pool.acquire() as conn:
            await db.mark_published(conn=conn, keys=[(r["game_key"], r["player_id"]) for r in rows])
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
    progress: Progress | None = None,
) -> Summary:
    started = time.perf_counter()
    summary = Summary()
    async with pool.acquire() as conn:
        run_id = await db.start_run(conn=conn, source=source.name, params={"seasons": seasons})
    summary.run_id = str(run_id)
    try:
        for season in seasons:
            good: list[Normalised] = []
            rejects: list[tuple[str, str, dict[str, str]]] = []
            for raw in source.player_rows(season):
                summary.read += 1
                try:
                    good.append(normalise_player_row(raw.record, source=source.name))
                except RejectedRow as exc:
                    rejects.append((raw.location, exc.reason, raw.record))
                if len(good) >= BATCH:
                    await _store(pool, good, summary)
                    if progress:
                        progress("store", len(good))
                    good = []
            if good:
                await _store(pool, good, summary)
                if progress:
                    progress("store", len(good))
            await _reject(pool, broker, run_id, source.name, rejects, summary)
        summary.published = await publish_outbox(pool=pool, broker=broker, progress=progress)
    except Exception as exc:
        async with pool.acquire() as conn:
            await db.finish_run(
                conn=conn, run_id=run_id, status="failed", counts=summary.counts(), error=repr(exc)
            )
        raise
    summary.seconds = time.perf_counter() - started
    async with pool.acquire() as conn:
        await db.finish_run(conn=conn, run_id=run_id, status="succeeded", counts=summary.counts())
        last = await db.last_game_date(conn=conn)
    if last is not None:
        metrics.LAST_GAME_DATE.set(time.mktime(last.timetuple()))
    metrics.RUN_SECONDS.labels(source.name).observe(summary.seconds)
    return summary


async def _store(pool: asyncpg.Pool, rows: list[Normalised], summary: Summary) -> None:
    async with pool.acquire() as conn:
        result = await db.store_player_games(conn=conn, rows=rows)
    summary.stored += result.stored
    summary.unchanged += result.unchanged
    metrics.ROWS.labels("files", "stored").inc(result.stored)
    metrics.ROWS.labels("files", "unchanged").inc(result.unchanged)


async def _reject(
    pool: asyncpg.Pool,
    broker: KafkaBroker,
    run_id: uuid.UUID,
    source: str,
    rejects: list[tuple[str, str, dict[str, str]]],
    summary: Summary,
) -> None:
    if not rejects:
        return
    async with pool.acquire() as conn:
        await db.record_rejects(
            conn=conn,
            run_id=run_id,
            source=source,
            rejects=rejects,
        )
    for location, reason, record in rejects:
        summary.reject_reasons[reason.split(":")[0]] = (
            summary.reject_reasons.get(reason.split(":")[0], 0) + 1
        )
        letter = DeadLetter(
            original_topic=topics.GAMES_RAW,
            key=record.get("PLAYER_ID") or None,
            payload_b64=base64.b64encode(json.dumps(record).encode()).decode("ascii"),
            error=f"{location}: {reason}",
            consumer=f"ingestor:{source}",
        )
        await broker.publish(
            letter.model_dump_json().encode(),
            topics.dead_letter(topics.GAMES_RAW),
            headers={"content-type": "application/json"},
        )
    summary.rejected += len(rejects)
    metrics.ROWS.labels(source, "rejected").inc(len(rejects))
    log.warning("rejected %d rows", len(rejects), extra={"run_id": str(run_id)})
