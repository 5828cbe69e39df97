"""Schema `ingest` through asyncpg. Upserts are idempotent on (game_key, player_id)."""

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from statmuse_ingestor.service import Normalised

_COLUMNS = (
    "game_key",
    "player_id",
    "game_id",
    "season",
    "season_type",
    "game_date",
    "team",
    "opponent",
    "is_home",
    "minutes",
    "points",
    "rebounds",
    "assists",
    "fg3m",
    "source",
    "checksum",
    "event_id",
    "payload",
)


@dataclass(frozen=True, slots=True)
class StoreResult:
    stored: int
    unchanged: int


async def store_player_games(
    *, conn: asyncpg.Connection, rows: Sequence[Normalised]
) -> StoreResult:
    """Upsert a batch in one transaction. A changed record (new checksum) is re-queued for
    publishing; an identical one is left untouched, so a second backfill changes no row."""
    records = []
    for n in rows:
        g = n.game
        records.append(
            (
                g.game_key,
                g.player_id,
                g.game_id,
                g.season,
                g.season_type,
                g.game_date,
                g.team,
                g.opponent,
                g.is_home,
                g.minutes,
                g.points,
                g.rebounds,
                g.assists,
                g.fg3m,
                g.source,
                n.checksum,
                g.event_id,
                g.model_dump_json(),
            )
        )
    async with conn.transaction():
        await conn.execute(
            "CREATE TEMP TABLE incoming (LIKE ingest.player_game_stats INCLUDING DEFAULTS) "
            "ON COMMIT DROP"
        )
        await conn.copy_records_to_table("incoming", records=records, columns=list(_COLUMNS))
        cols = ", ".join(_COLUMNS)
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in _COLUMNS[2:])
        status = await conn.execute(
            f"""INSERT INTO ingest.player_game_stats ({cols})
                SELECT DISTINCT ON (game_key, player_id) {cols} FROM incoming
                ORDER BY game_key, player_id
                ON CONFLICT (game_key, player_id) DO UPDATE
                SET {updates}, updated_at = now(), published_at = NULL
                WHERE ingest.player_game_stats.checksum IS DISTINCT FROM EXCLUDED.checksum"""
        )
        await conn.execute(
            """INSERT INTO ingest.players (player_id, player_name, last_team)
               SELECT DISTINCT ON (player_id) player_id, payload->>'player_name', team
               FROM incoming ORDER BY player_id, game_date DESC
               ON CONFLICT (player_id) DO UPDATE
               SET player_name = EXCLUDED.player_name, last_team = EXCLUDED.last_team,
                   updated_at = now()
               WHERE (ingest.players.player_name, ingest.players.last_team)
                     IS DISTINCT FROM (EXCLUDED.player_name, EXCLUDED.last_team)"""
        )
    stored = int(status.split()[-1])
    return StoreResult(
        stored=stored, unchanged=len({(n.game.game_key, n.game.player_id) for n in rows}) - stored
    )


async def fetch_unpublished(*, conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT game_key, player_id, payload::text AS payload FROM ingest.player_game_stats
           WHERE published_at IS NULL ORDER BY game_date, game_key, player_id LIMIT $1""",
        limit,
    )
    return rows


async def mark_published(*, conn: asyncpg.Connection, keys: Sequence[tuple[str, int]]) -> None:
    await conn.execute(
        """UPDATE ingest.player_game_stats p SET published_at = now()
           FROM unnest($1::text[], $2::integer[]) AS k(game_key, player_id)
           WHERE p.game_key = k.game_key AND p.player_id = k.player_id""",
        [k[0] for k in keys],
        [k[1] for k in keys],
    )


async def start_run(
    *, conn: asyncpg.Connection, source: str, params: dict[str, object]
) -> uuid.UUID:
    run_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO ingest.ingest_runs (run_id, source, params) VALUES ($1, $2, $3::jsonb)",
        run_id,
        source,
        json.dumps(params),
    )
    return run_id


async def record_rejects(
    *,
    conn: asyncpg.Connection,
    run_id: uuid.UUID,
    source: str,
    rejects: Sequence[tuple[str, str, dict[str, str]]],
) -> None:
    if rejects:
        await conn.executemany(
            "INSERT INTO ingest.rejects (run_id, source, location, reason, record) "
            "VALUES ($1, $2, $3, $4, $5::jsonb)",
            [(run_id, source, loc, reason, json.dumps(rec)) for loc, reason, rec in rejects],
        )


async def finish_run(
    *,
    conn: asyncpg.Connection,
    run_id: uuid.UUID,
    status: str,
    counts: dict[str, int],
    error: str | None = None,
) -> None:
    await conn.execute(
        """UPDATE ingest.ingest_runs SET finished_at = now(), status = $2, rows_read = $3,
           rows_stored = $4, rows_unchanged = $5, rows_rejected = $6, events_published = $7,
           error = $8 WHERE run_id = $1""",
        run_id,
        status,
        counts.get("read", 0),
        counts.get("stored", 0),
        counts.get("unchanged", 0),
        counts.get("rejected", 0),
        counts.get("published", 0),
        error,
    )


async def last_game_date(*, conn: asyncpg.Connection) -> dt.date | None:
    value: dt.date | None = await conn.fetchval(
        "SELECT max(game_date) FROM ingest.player_game_stats"
    )
    return value
