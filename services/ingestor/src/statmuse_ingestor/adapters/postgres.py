"""Schema `ingest` through asyncpg: `PostgresIngest`, the service's `IngestRepository`. Every
write is an upsert on a natural key, and a row is rewritten only when its content (checksum)
changed, so a second backfill changes nothing."""

import datetime as dt
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Literal

import asyncpg

from statmuse_ingestor.outliers import Running
from statmuse_ingestor.ports import Kind, Reject, RunStatus, StoreResult, Unpublished
from statmuse_ingestor.service import Normalised, NormalisedTeam
from statmuse_ingestor.sources import RawRow
from statmuse_shared.platform.db import Database

_PLAYER_COLUMNS = (
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
    "flag_reason",
)
_TEAM_COLUMNS = (
    "game_key",
    "team",
    "game_id",
    "season",
    "season_type",
    "game_date",
    "opponent",
    "is_home",
    "points",
    "source",
    "checksum",
    "event_id",
    "payload",
)
Table = Literal["player_game_stats", "team_game_stats"]
_KEYS: dict[str, tuple[str, str]] = {
    "player_game_stats": ("game_key", "player_id"),
    "team_game_stats": ("game_key", "team"),
}
_TABLES: dict[Kind, Table] = {"player": "player_game_stats", "team": "team_game_stats"}


async def _upsert(
    conn: asyncpg.Connection,
    table: Table,
    columns: tuple[str, ...],
    records: Sequence[tuple[object, ...]],
) -> int:
    """COPY into a temp table, then one INSERT … ON CONFLICT that touches changed rows only."""
    k1, k2 = _KEYS[table]
    cols = ", ".join(columns)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns[2:])
    await conn.execute(
        f"CREATE TEMP TABLE incoming (LIKE ingest.{table} INCLUDING DEFAULTS) ON COMMIT DROP"
    )
    await conn.copy_records_to_table("incoming", records=records, columns=list(columns))
    status = await conn.execute(
        f"""INSERT INTO ingest.{table} ({cols})
            SELECT DISTINCT ON ({k1}, {k2}) {cols} FROM incoming ORDER BY {k1}, {k2}
            ON CONFLICT ({k1}, {k2}) DO UPDATE
            SET {updates}, updated_at = now(), published_at = NULL
            WHERE ingest.{table}.checksum IS DISTINCT FROM EXCLUDED.checksum"""
    )
    return int(status.split()[-1])


def _player_record(n: Normalised) -> tuple[object, ...]:
    g = n.game
    return (
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
        g.flag_reason,
    )


def _team_record(n: NormalisedTeam) -> tuple[object, ...]:
    g = n.game
    return (
        g.game_key,
        g.team,
        g.game_id,
        g.season,
        g.season_type,
        g.game_date,
        g.opponent,
        g.is_home,
        g.points,
        g.source,
        n.checksum,
        g.event_id,
        g.model_dump_json(),
    )


async def _upsert_games(conn: asyncpg.Connection) -> None:
    """One row per game from whichever box scores arrive (team or player, home or away)."""
    await conn.execute(
        """INSERT INTO ingest.games (game_key, game_id, game_date, season, season_type,
               home_team, away_team)
           SELECT DISTINCT ON (game_key) game_key, game_id, game_date, season, season_type,
               split_part(split_part(game_key, ':', 2), '@', 2),
               split_part(split_part(game_key, ':', 2), '@', 1)
           FROM incoming ORDER BY game_key, game_id NULLS LAST
           ON CONFLICT (game_key) DO UPDATE
           SET game_id = coalesce(EXCLUDED.game_id, ingest.games.game_id), updated_at = now()
           WHERE ingest.games.game_id IS NULL AND EXCLUDED.game_id IS NOT NULL"""
    )


class PostgresIngest:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def store_player_games(self, rows: Sequence[Normalised]) -> StoreResult:
        """Upsert a batch in one transaction. A changed record (new checksum) is re-queued for
        publishing; an identical one is left untouched."""
        records = [_player_record(n) for n in rows]
        async with self.db.acquire() as conn, conn.transaction():
            stored = await _upsert(conn, "player_game_stats", _PLAYER_COLUMNS, records)
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
            await _upsert_games(conn)
        unique = len({(n.game.game_key, n.game.player_id) for n in rows})
        return StoreResult(stored=stored, unchanged=unique - stored)

    async def store_team_games(self, rows: Sequence[NormalisedTeam]) -> StoreResult:
        records = [_team_record(n) for n in rows]
        async with self.db.acquire() as conn, conn.transaction():
            stored = await _upsert(conn, "team_game_stats", _TEAM_COLUMNS, records)
            await conn.execute(
                """INSERT INTO ingest.teams (abbreviation, team_id)
                   SELECT DISTINCT ON (team) team, (payload->>'team_id')::bigint FROM incoming
                   ORDER BY team, game_date DESC
                   ON CONFLICT (abbreviation) DO UPDATE SET team_id = EXCLUDED.team_id,
                       updated_at = now()
                   WHERE ingest.teams.team_id IS DISTINCT FROM EXCLUDED.team_id"""
            )
            await _upsert_games(conn)
        unique = len({(n.game.game_key, n.game.team) for n in rows})
        return StoreResult(stored=stored, unchanged=unique - stored)

    async def store_raw(
        self, *, source: str, kind: Kind, rows: Sequence[tuple[RawRow, str]]
    ) -> int:
        """The audit trail: each record as received, once per (source, checksum)."""
        async with self.db.acquire() as conn, conn.transaction():
            await conn.execute(
                "CREATE TEMP TABLE raw_in (LIKE ingest.raw_records INCLUDING DEFAULTS) "
                "ON COMMIT DROP"
            )
            await conn.copy_records_to_table(
                "raw_in",
                records=[
                    (source, kind, r.location, checksum, json.dumps(r.record))
                    for r, checksum in rows
                ],
                columns=["source", "kind", "location", "checksum", "record"],
            )
            status = await conn.execute(
                """INSERT INTO ingest.raw_records (source, kind, location, checksum, record)
                   SELECT DISTINCT ON (source, checksum) source, kind, location, checksum, record
                   FROM raw_in ORDER BY source, checksum
                   ON CONFLICT (source, checksum) DO NOTHING"""
            )
        return int(status.split()[-1])

    async def prior_history(
        self, *, before: dt.date, player_ids: Sequence[int]
    ) -> dict[tuple[int, str], Running]:
        """Each player's count, mean and sd per stat over games before `before`."""
        async with self.db.acquire() as conn:
            rows = await conn.fetch(
                """SELECT player_id, count(*) AS n,
                      avg(points) AS points_mean, coalesce(stddev_samp(points), 0) AS points_sd,
                      avg(rebounds) AS rebounds_mean,
                      coalesce(stddev_samp(rebounds), 0) AS rebounds_sd,
                      avg(assists) AS assists_mean,
                      coalesce(stddev_samp(assists), 0) AS assists_sd
                   FROM ingest.player_game_stats
                   WHERE game_date < $1 AND player_id = ANY($2::integer[])
                   GROUP BY player_id""",
                before,
                list(player_ids),
            )
        out: dict[tuple[int, str], Running] = {}
        for r in rows:
            for stat in ("points", "rebounds", "assists"):
                out[(r["player_id"], stat)] = Running.from_aggregate(
                    r["n"], float(r[f"{stat}_mean"]), float(r[f"{stat}_sd"])
                )
        return out

    async def unpublished(self, *, limit: int) -> list[Unpublished]:
        """The oldest unpublished box scores, players and teams interleaved by game date, so
        consumers see the league in date order. Each table is read along its partial index (a
        sort over their union would redo the whole backlog for every chunk)."""
        async with self.db.acquire() as conn:
            players: list[asyncpg.Record] = await conn.fetch(
                """SELECT game_date, game_key, player_id::text AS subject, payload::text AS payload
                   FROM ingest.player_game_stats WHERE published_at IS NULL
                   ORDER BY game_date, game_key, player_id LIMIT $1""",
                limit,
            )
            # Team boxes up to the last day of this chunk of players (all of them when the
            # players are done); at most `limit` of them, so a chunk stays bounded.
            cutoff = players[-1]["game_date"] if len(players) == limit else None
            teams: list[asyncpg.Record] = await conn.fetch(
                """SELECT game_date, game_key, team AS subject, payload::text AS payload
                   FROM ingest.team_game_stats WHERE published_at IS NULL
                     AND ($2::date IS NULL OR game_date <= $2::date)
                   ORDER BY game_date, game_key, team LIMIT $1""",
                limit,
                cutoff,
            )
        rows = [Unpublished("player", *r) for r in players]
        rows += [Unpublished("team", *r) for r in teams]
        # Stable: within a day the players come first, each table in its own order.
        return sorted(rows, key=lambda r: (r.game_date, r.kind))

    async def mark_published(self, rows: Sequence[Unpublished]) -> None:
        async with self.db.acquire() as conn, conn.transaction():
            for kind, table in _TABLES.items():
                keys = [(r.game_key, r.subject) for r in rows if r.kind == kind]
                if not keys:
                    continue
                k1, k2 = _KEYS[table]
                subjects: list[object] = [s for _, s in keys]
                if kind == "player":
                    subjects = [int(s) for _, s in keys]
                cast = "integer" if kind == "player" else "text"
                await conn.execute(
                    f"""UPDATE ingest.{table} t SET published_at = now()
                        FROM unnest($1::text[], $2::{cast}[]) AS k(k1, k2)
                        WHERE t.{k1} = k.k1 AND t.{k2} = k.k2""",
                    [k for k, _ in keys],
                    subjects,
                )

    async def start_run(self, *, source: str, params: Mapping[str, object]) -> uuid.UUID:
        run_id = uuid.uuid4()
        async with self.db.acquire() as conn:
            await conn.execute(
                "INSERT INTO ingest.ingest_runs (run_id, source, params) "
                "VALUES ($1, $2, $3::jsonb)",
                run_id,
                source,
                json.dumps(params),
            )
        return run_id

    async def record_rejects(
        self, *, run_id: uuid.UUID, source: str, rejects: Sequence[Reject]
    ) -> None:
        if not rejects:
            return
        async with self.db.acquire() as conn:
            await conn.executemany(
                "INSERT INTO ingest.rejects (run_id, source, location, reason, record) "
                "VALUES ($1, $2, $3, $4, $5::jsonb)",
                [(run_id, source, loc, reason, json.dumps(rec)) for loc, reason, rec in rejects],
            )

    async def finish_run(
        self,
        *,
        run_id: uuid.UUID,
        status: RunStatus,
        counts: Mapping[str, int],
        error: str | None = None,
    ) -> None:
        async with self.db.acquire() as conn:
            await conn.execute(
                """UPDATE ingest.ingest_runs SET finished_at = now(), status = $2,
                   rows_read = $3, rows_stored = $4, rows_unchanged = $5, rows_rejected = $6,
                   events_published = $7, rows_flagged = $8, team_rows_stored = $9, error = $10
                   WHERE run_id = $1""",
                run_id,
                status,
                counts.get("read", 0),
                counts.get("stored", 0),
                counts.get("unchanged", 0),
                counts.get("rejected", 0),
                counts.get("published", 0),
                counts.get("flagged", 0),
                counts.get("team_stored", 0),
                error,
            )

    async def last_game_date(self) -> dt.date | None:
        async with self.db.acquire() as conn:
            value: dt.date | None = await conn.fetchval(
                "SELECT max(game_date) FROM ingest.player_game_stats"
            )
        return value

    async def known_players(self) -> list[tuple[int, str, str]]:
        async with self.db.acquire() as conn:
            rows: list[asyncpg.Record] = await conn.fetch(
                "SELECT player_id, player_name, last_team FROM ingest.players"
            )
        return [(r["player_id"], r["player_name"], r["last_team"]) for r in rows]
