"""Schema `ingest`, the schedule table through asyncpg: `PostgresSchedule`, the service's
`ScheduleRepository`. A game is rewritten (and queued for publishing) only when its content
changed, so reading the same schedule again changes nothing."""

from collections.abc import Sequence

import asyncpg

from statmuse_ingestor.ports import StoreResult
from statmuse_ingestor.schedule_rows import ScheduledGame
from statmuse_shared.contract.messages import GameScheduled
from statmuse_shared.platform.db import Database

_COLUMNS = (
    "game_id",
    "game_key",
    "game_date",
    "tip_off",
    "season",
    "season_type",
    "home_team",
    "away_team",
    "status",
    "source",
    "checksum",
    "payload",
)


def _record(s: ScheduledGame) -> tuple[object, ...]:
    g = s.game
    return (
        g.game_id,
        g.game_key,
        g.game_date,
        g.tip_off,
        g.season,
        g.season_type,
        g.home,
        g.away,
        g.status,
        g.source,
        s.checksum,
        g.model_dump_json(),
    )


class PostgresSchedule:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def store_schedule(self, games: Sequence[ScheduledGame]) -> StoreResult:
        if not games:
            return StoreResult(0, 0)
        # The last row of a game id wins when a run read it twice.
        latest = {g.game.game_id: g for g in games}
        cols = ", ".join(_COLUMNS)
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in _COLUMNS[1:])
        async with self.db.acquire() as conn, conn.transaction():
            await conn.execute(
                "CREATE TEMP TABLE incoming (LIKE ingest.schedule INCLUDING DEFAULTS) "
                "ON COMMIT DROP"
            )
            await conn.copy_records_to_table(
                "incoming", records=[_record(g) for g in latest.values()], columns=list(_COLUMNS)
            )
            status = await conn.execute(
                f"""INSERT INTO ingest.schedule ({cols}) SELECT {cols} FROM incoming
                    ON CONFLICT (game_id) DO UPDATE
                    SET {updates}, updated_at = now(), published_at = NULL
                    WHERE ingest.schedule.checksum IS DISTINCT FROM EXCLUDED.checksum"""
            )
        stored = int(status.split()[-1])
        return StoreResult(stored, len(latest) - stored)

    async def unpublished_schedule(self, *, limit: int) -> list[ScheduledGame]:
        async with self.db.acquire() as conn:
            rows: list[asyncpg.Record] = await conn.fetch(
                """SELECT payload::text AS payload, checksum FROM ingest.schedule
                   WHERE published_at IS NULL ORDER BY game_date, game_id LIMIT $1""",
                limit,
            )
        return [
            ScheduledGame(GameScheduled.model_validate_json(r["payload"]), r["checksum"])
            for r in rows
        ]

    async def mark_schedule_published(self, games: Sequence[ScheduledGame]) -> None:
        async with self.db.acquire() as conn:
            await conn.execute(
                """UPDATE ingest.schedule s SET published_at = now()
                   FROM unnest($1::text[], $2::text[]) AS k(game_id, checksum)
                   WHERE s.game_id = k.game_id AND s.checksum = k.checksum""",
                [g.game.game_id for g in games],
                [g.checksum for g in games],
            )
