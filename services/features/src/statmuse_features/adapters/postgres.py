"""Schema `features` through asyncpg: the service's `FeatureRepository`. Writes are upserts
that report what actually changed, so a replay of the raw topic stores nothing new and
publishes nothing new."""

import datetime as dt
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import asyncpg

from statmuse_features.ports import GameKey, History, Progress, StaleRange
from statmuse_features.service import team_report
from statmuse_shared.contract.messages import (
    AvailabilityReported,
    FeaturesComputed,
    PlayerGameIngested,
    TeamGameIngested,
)
from statmuse_shared.features import Absent, PlayerGame, TeamGame, TeamReport, pack, possessions_of
from statmuse_shared.platform.db import Database

# Up to this many vectors, one INSERT from arrays; more, COPY through a temporary table (three
# round trips and a transaction, which a message at a time paid in full).
SMALL_STORE = 256
_VECTOR_COLUMNS = "player_id, as_of, feature_set_version, kind, season, game_date, vector, event_id"
# Only a vector whose values changed is written and returned (to publish).
_VECTOR_UPSERT = """ON CONFLICT (player_id, as_of, feature_set_version) DO UPDATE
    SET kind = EXCLUDED.kind, season = EXCLUDED.season, game_date = EXCLUDED.game_date,
        vector = EXCLUDED.vector, event_id = EXCLUDED.event_id, computed_at = now()
    WHERE features.feature_vectors.event_id IS DISTINCT FROM EXCLUDED.event_id
    RETURNING player_id, as_of"""


class PostgresFeatures:
    """Each operation checks a connection out of the pool, unless the object is a `session`
    (one connection held for the block)."""

    def __init__(self, db: Database, *, conn: asyncpg.Connection | None = None) -> None:
        self.db = db
        self._conn = conn

    @asynccontextmanager
    async def session(self) -> AsyncIterator["PostgresFeatures"]:
        if self._conn is not None:
            yield self
            return
        async with self.db.acquire() as conn:
            yield PostgresFeatures(self.db, conn=conn)

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        if self._conn is not None:
            yield self._conn
            return
        async with self.db.acquire() as conn:
            yield conn

    async def store_games(
        self, *, players: Sequence[PlayerGameIngested], teams: Sequence[TeamGameIngested]
    ) -> set[GameKey]:
        async with self._connection() as conn:
            if not teams:  # one statement: no transaction to open and commit
                return await _upsert_player_games(conn, players) if players else set()
            async with conn.transaction():
                new = await _upsert_player_games(conn, players) if players else set()
                await _upsert_team_games(conn, teams)
        return new

    async def games_without_vectors(
        self, games: Sequence[PlayerGameIngested], *, feature_set_version: str
    ) -> set[GameKey]:
        async with self._connection() as conn:
            rows = await conn.fetch(
                """SELECT g.player_id, g.game_key
                   FROM unnest($1::integer[], $2::text[], $3::date[]) AS g(player_id, game_key, day)
                   WHERE NOT EXISTS (SELECT 1 FROM features.feature_vectors v
                                     WHERE v.player_id = g.player_id AND v.as_of = g.day
                                       AND v.kind = 'game' AND v.feature_set_version = $4)""",
                [g.player_id for g in games],
                [g.game_key for g in games],
                [g.game_date for g in games],
                feature_set_version,
            )
        return {(r["player_id"], r["game_key"]) for r in rows}

    async def league_revision(self) -> int:
        """Revisions are taken under a row lock (`_upsert_team_games`), so they commit in
        order: every team box of a revision up to the one read is visible."""
        async with self._connection() as conn:
            return int(await conn.fetchval("SELECT revision FROM features.league"))

    async def team_games(
        self, *, after: int | None = None, upto: int | None = None
    ) -> list[TeamGame]:
        async with self._connection() as conn:
            rows = await conn.fetch(
                """SELECT game_date, season, team, points_allowed, possessions, minutes,
                          fga::float8 + 0.44::float8 * fta + tov AS plays
                   FROM features.team_games
                   WHERE points_allowed IS NOT NULL AND possessions IS NOT NULL AND minutes > 0
                     AND ($1::bigint IS NULL OR revision > $1)
                     AND ($2::bigint IS NULL OR revision <= $2)
                   ORDER BY season, team, game_date""",
                after,
                upto,
            )
        return [TeamGame.of(r) for r in rows]

    async def store_reports(self, reports: Sequence[AvailabilityReported]) -> int:
        if not reports:
            return 0
        latest = {(r.game_key, r.team): r for r in reports}  # the last one of the batch
        rows = [(r, team_report(r)) for r in latest.values()]
        async with self._connection() as conn, conn.transaction():
            # The league's revision counter, as for team boxes: its row lock makes revisions
            # commit in order.
            revision = await conn.fetchval(
                "UPDATE features.league SET revision = revision + 1 RETURNING revision"
            )
            changed = await conn.fetch(
                """INSERT INTO features.availability (game_key, team, game_date, season, absent,
                       event_id, revision)
                   SELECT g, t, d, s, a::jsonb, e, $7::bigint
                   FROM unnest($1::text[], $2::text[], $3::date[], $4::text[], $5::text[],
                               $6::text[]) AS x(g, t, d, s, a, e)
                   ON CONFLICT (game_key, team) DO UPDATE SET game_date = EXCLUDED.game_date,
                       season = EXCLUDED.season, absent = EXCLUDED.absent,
                       event_id = EXCLUDED.event_id, revision = EXCLUDED.revision
                   WHERE features.availability.absent IS DISTINCT FROM EXCLUDED.absent
                      OR features.availability.game_date IS DISTINCT FROM EXCLUDED.game_date
                   RETURNING game_key""",
                [r.game_key for r, _ in rows],
                [r.team for r, _ in rows],
                [r.game_date for r, _ in rows],
                [r.season for r, _ in rows],
                [json.dumps([list(_absent_row(a)) for a in t.absent]) for _, t in rows],
                [r.event_id for r, _ in rows],
                revision,
            )
        return len(changed)

    async def reports(
        self, *, after: int | None = None, upto: int | None = None
    ) -> list[TeamReport]:
        async with self._connection() as conn:
            rows = await conn.fetch(
                """SELECT game_date, season, team, absent::text AS absent
                   FROM features.availability
                   WHERE ($1::bigint IS NULL OR revision > $1)
                     AND ($2::bigint IS NULL OR revision <= $2)
                   ORDER BY revision, game_date, team""",
                after,
                upto,
            )
        return [
            TeamReport(
                r["game_date"],
                r["season"],
                r["team"],
                tuple(Absent(*a) for a in json.loads(r["absent"])),
            )
            for r in rows
        ]

    async def record_progress(self, *, latest: Progress, revision: int) -> None:
        if not latest:
            return
        async with self._connection() as conn:
            await conn.execute(
                """INSERT INTO features.partitions (partition, season, latest_day, checked_revision)
                   SELECT p, s, d, $4::bigint FROM unnest($1::integer[], $2::text[], $3::date[])
                       AS x(p, s, d)
                   ON CONFLICT (partition, season) DO UPDATE SET
                       latest_day = GREATEST(features.partitions.latest_day, EXCLUDED.latest_day),
                       checked_revision = LEAST(features.partitions.checked_revision,
                                                EXCLUDED.checked_revision)""",
                [p for p, _ in latest],
                [s for _, s in latest],
                list(latest.values()),
                revision,
            )

    async def mark_stale(self, *, partitions: Sequence[int] | None, upto: int) -> None:
        async with self._connection() as conn, conn.transaction():
            # A team box of day d changes vectors from d + 1 on (ratings as of the day
            # before), a report of day d the vectors of d itself.
            await conn.execute(
                """WITH late AS (
                       SELECT partition, season, min(first_day) AS first_day FROM (
                           SELECT p.partition, p.season, t.game_date + 1 AS first_day
                           FROM features.partitions p JOIN features.team_games t
                             ON t.season = p.season AND t.revision > p.checked_revision
                            AND t.revision <= $2 AND t.game_date < p.latest_day
                           WHERE ($1::integer[] IS NULL OR p.partition = ANY($1))
                           UNION ALL
                           SELECT p.partition, p.season, a.game_date
                           FROM features.partitions p JOIN features.availability a
                             ON a.season = p.season AND a.revision > p.checked_revision
                            AND a.revision <= $2 AND a.game_date <= p.latest_day
                           WHERE ($1::integer[] IS NULL OR p.partition = ANY($1))
                       ) AS changed
                       GROUP BY partition, season)
                   UPDATE features.partitions p
                   SET stale_since = LEAST(p.stale_since, late.first_day),
                       stale_version = p.stale_version + 1
                   FROM late WHERE p.partition = late.partition AND p.season = late.season""",
                partitions,
                upto,
            )
            await conn.execute(
                """UPDATE features.partitions SET checked_revision = $2
                   WHERE ($1::integer[] IS NULL OR partition = ANY($1))
                     AND checked_revision < $2""",
                partitions,
                upto,
            )

    async def stale_ranges(self, *, partitions: Sequence[int] | None) -> list[StaleRange]:
        async with self._connection() as conn:
            rows = await conn.fetch(
                """SELECT partition, season, stale_since, stale_version FROM features.partitions
                   WHERE stale_since IS NOT NULL AND ($1::integer[] IS NULL OR partition = ANY($1))
                   ORDER BY season, partition""",
                partitions,
            )
        return [
            StaleRange(r["partition"], r["season"], r["stale_since"], r["stale_version"])
            for r in rows
        ]

    async def clear_stale(self, *, healed: Sequence[tuple[int, str, int]]) -> None:
        if not healed:
            return
        async with self._connection() as conn:
            await conn.execute(
                """UPDATE features.partitions p SET stale_since = NULL
                   FROM unnest($1::integer[], $2::text[], $3::bigint[]) AS c(partition, season, v)
                   WHERE p.partition = c.partition AND p.season = c.season
                     AND p.stale_version = c.v""",
                *zip(*healed, strict=True),
            )

    async def histories(self, player_ids: Sequence[int]) -> dict[int, History]:
        async with self._connection() as conn:
            rows = await conn.fetch(
                """SELECT player_id, player_name, game_date, season, season_type, team, opponent,
                          is_home, minutes, points, rebounds, assists, threes, steals,
                          blocks, fga, fta, turnovers
                   FROM features.player_games WHERE player_id = ANY($1::integer[])
                   ORDER BY player_id, game_date""",
                list(player_ids),
            )
        out: dict[int, History] = {}
        for r in rows:
            _, games = out.setdefault(r["player_id"], History(r["player_name"], []))
            games.append(PlayerGame.of(r))
            out[r["player_id"]] = History(r["player_name"], games)  # the latest name
        return out

    async def players_with_games_since(self, *, season: str, since: dt.date) -> list[int]:
        async with self._connection() as conn:
            rows = await conn.fetch(
                "SELECT DISTINCT player_id FROM features.player_games WHERE season = $1 "
                "AND game_date >= $2 ORDER BY 1",
                season,
                since,
            )
        return [r["player_id"] for r in rows]

    async def all_players(self) -> list[int]:
        async with self._connection() as conn:
            rows = await conn.fetch(
                "SELECT DISTINCT player_id FROM features.player_games ORDER BY 1"
            )
        return [r[0] for r in rows]

    async def rostered(self, *, teams: Sequence[str], seasons: Sequence[str]) -> list[int]:
        async with self._connection() as conn:
            rows = await conn.fetch(
                """SELECT player_id FROM (
                       SELECT DISTINCT ON (player_id) player_id, team FROM features.player_games
                       WHERE season = ANY($2::text[]) ORDER BY player_id, game_date DESC
                   ) latest WHERE team = ANY($1::text[]) ORDER BY player_id""",
                list(teams),
                list(seasons),
            )
        return [r[0] for r in rows]

    async def last_game_date(self) -> dt.date | None:
        async with self._connection() as conn:
            day: dt.date | None = await conn.fetchval(
                "SELECT max(game_date) FROM features.player_games"
            )
        return day

    async def store_vectors(
        self, vectors: Sequence[FeaturesComputed], *, packed: Sequence[bytes] | None = None
    ) -> list[FeaturesComputed]:
        if not vectors:
            return []
        blobs = packed if packed is not None else [v.packed() or pack(v.features) for v in vectors]
        records = [
            (
                v.player_id,
                v.as_of,
                v.feature_set_version,
                v.kind,
                v.season,
                v.game.game_date if v.game else None,
                blob,
                v.event_id,
            )
            for v, blob in zip(vectors, blobs, strict=True)
        ]
        if len(records) <= SMALL_STORE:
            # A message's worth (the streaming path): one statement, one round trip.
            async with self._connection() as conn:
                rows = await conn.fetch(
                    f"""INSERT INTO features.feature_vectors ({_VECTOR_COLUMNS})
                        SELECT * FROM unnest($1::integer[], $2::date[], $3::text[], $4::text[],
                            $5::text[], $6::date[], $7::bytea[], $8::text[])
                        {_VECTOR_UPSERT}""",
                    *(list(column) for column in zip(*records, strict=True)),
                )
        else:
            # A backlog's or the batch build's: COPY into a temporary table, then one upsert.
            async with self._connection() as conn, conn.transaction():
                await conn.execute(
                    "CREATE TEMP TABLE incoming_vectors (LIKE features.feature_vectors "
                    "INCLUDING DEFAULTS) ON COMMIT DROP"
                )
                await conn.copy_records_to_table(
                    "incoming_vectors", records=records, columns=_VECTOR_COLUMNS.split(", ")
                )
                rows = await conn.fetch(
                    f"""INSERT INTO features.feature_vectors ({_VECTOR_COLUMNS})
                        SELECT {_VECTOR_COLUMNS} FROM incoming_vectors
                        {_VECTOR_UPSERT}"""
                )
        changed = {(r["player_id"], r["as_of"]) for r in rows}
        return [v for v in vectors if (v.player_id, v.as_of) in changed]


async def _upsert_player_games(
    conn: asyncpg.Connection, games: Sequence[PlayerGameIngested]
) -> set[GameKey]:
    """Returns the (player_id, game_key) rows that are new or changed."""
    rows = await conn.fetch(
        """INSERT INTO features.player_games (player_id, game_key, game_date, season,
               season_type, team, opponent, is_home, player_name, minutes, points, rebounds,
               assists, threes, steals, blocks, fga, fta, turnovers, event_id)
           SELECT * FROM unnest($1::integer[], $2::text[], $3::date[], $4::text[], $5::text[],
               $6::text[], $7::text[], $8::boolean[], $9::text[], $10::float8[], $11::integer[],
               $12::integer[], $13::integer[], $14::integer[], $15::integer[], $16::integer[],
               $17::integer[], $18::integer[], $19::integer[], $20::text[])
           ON CONFLICT (player_id, game_key) DO UPDATE SET game_date = EXCLUDED.game_date,
               season = EXCLUDED.season, season_type = EXCLUDED.season_type,
               team = EXCLUDED.team, opponent = EXCLUDED.opponent, is_home = EXCLUDED.is_home,
               player_name = EXCLUDED.player_name, minutes = EXCLUDED.minutes,
               points = EXCLUDED.points, rebounds = EXCLUDED.rebounds,
               assists = EXCLUDED.assists, threes = EXCLUDED.threes,
               steals = EXCLUDED.steals, blocks = EXCLUDED.blocks, fga = EXCLUDED.fga,
               fta = EXCLUDED.fta, turnovers = EXCLUDED.turnovers, event_id = EXCLUDED.event_id
           WHERE features.player_games.event_id IS DISTINCT FROM EXCLUDED.event_id
              -- a replay brings the columns a row stored before migrations 0005 and 0007 lack
              OR (features.player_games.steals IS NULL AND EXCLUDED.steals IS NOT NULL)
              OR (features.player_games.blocks IS NULL AND EXCLUDED.blocks IS NOT NULL)
              OR (features.player_games.fga IS NULL AND EXCLUDED.fga IS NOT NULL)
              OR (features.player_games.fta IS NULL AND EXCLUDED.fta IS NOT NULL)
              OR (features.player_games.turnovers IS NULL
                  AND EXCLUDED.turnovers IS NOT NULL)
           RETURNING player_id, game_key""",
        *zip(
            *[
                (
                    g.player_id,
                    g.game_key,
                    g.game_date,
                    g.season,
                    g.season_type,
                    g.team,
                    g.opponent,
                    g.is_home,
                    g.player_name,
                    g.minutes,
                    g.points,
                    g.rebounds,
                    g.assists,
                    g.fg3m,
                    g.steals,
                    g.blocks,
                    g.fga,
                    g.fta,
                    g.turnovers,
                    g.event_id,
                )
                for g in games
            ],
            strict=True,
        ),
    )
    return {(r["player_id"], r["game_key"]) for r in rows}


async def _upsert_team_games(
    conn: asyncpg.Connection, games: Sequence[TeamGameIngested]
) -> set[tuple[str, str]]:
    """Returns the (team, season) pairs whose games are new or changed. Changed rows take the
    next league revision: the counter's row lock is held to the end of the caller's
    transaction, so revisions become visible in order (readers: `league_revision`)."""
    revision = await conn.fetchval(
        "UPDATE features.league SET revision = revision + 1 RETURNING revision"
    )
    rows = await conn.fetch(
        """INSERT INTO features.team_games (game_key, team, game_date, season, points,
               points_allowed, fga, oreb, tov, fta, minutes, possessions, event_id, revision)
           SELECT *, $14::bigint FROM unnest($1::text[], $2::text[], $3::date[], $4::text[],
               $5::integer[], $6::integer[], $7::integer[], $8::integer[], $9::integer[],
               $10::integer[], $11::float8[], $12::float8[], $13::text[])
           ON CONFLICT (game_key, team) DO UPDATE SET game_date = EXCLUDED.game_date,
               season = EXCLUDED.season, points = EXCLUDED.points,
               points_allowed = EXCLUDED.points_allowed, fga = EXCLUDED.fga,
               oreb = EXCLUDED.oreb, tov = EXCLUDED.tov, fta = EXCLUDED.fta,
               minutes = EXCLUDED.minutes, possessions = EXCLUDED.possessions,
               event_id = EXCLUDED.event_id, revision = EXCLUDED.revision
           WHERE features.team_games.event_id IS DISTINCT FROM EXCLUDED.event_id
           RETURNING team, season, game_key""",
        *zip(
            *[
                (
                    g.game_key,
                    g.team,
                    g.game_date,
                    g.season,
                    g.points,
                    g.opponent_points,
                    g.fga,
                    g.oreb,
                    g.tov,
                    g.fta,
                    g.minutes,
                    possessions_of(g),
                    g.event_id,
                )
                for g in games
            ],
            strict=True,
        ),
        revision,
    )
    if rows:
        # A broken PLUS_MINUS leaves points allowed empty: take them from the opponent's row
        # (which another instance may have stored: it changes, so it takes this revision).
        await conn.execute(
            """UPDATE features.team_games t SET points_allowed = o.points, revision = $2
               FROM features.team_games o
               WHERE t.game_key = o.game_key AND t.team <> o.team
                 AND t.points_allowed IS NULL AND o.points IS NOT NULL
                 AND t.game_key = ANY($1::text[])""",
            list({r["game_key"] for r in rows}),
            revision,
        )
    return {(r["team"], r["season"]) for r in rows}


def _absent_row(a: Absent) -> tuple[int, float | None, float | None, float | None, float | None]:
    return (a.player_id, a.minutes, a.points, a.rebounds, a.assists)
