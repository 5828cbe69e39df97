"""Schema `gateway` through asyncpg: the gateway's own read models (`PostgresReadModel`, the
`ReadModel` of the service), over one query function per statement, each taking the
connection it runs on."""

import datetime as dt
from collections.abc import Sequence

import asyncpg

from statmuse_gateway.ports import (
    Player,
    ScheduledGame,
    StoredModel,
    StoredVector,
    Vectors,
)
from statmuse_shared.contract.messages import (
    AbTestReported,
    FeaturesComputed,
    GameScheduled,
    ModelPublished,
    PlayerGameIngested,
    PropPriced,
    TeamGameIngested,
)
from statmuse_shared.contract.names import normalize_name
from statmuse_shared.contract.vectors import stored_form
from statmuse_shared.features import FEATURE_SET_VERSION, PlayerGame, TeamGame, possessions_of
from statmuse_shared.features.context import Shooting
from statmuse_shared.platform.db import Database

# What "PostgreSQL is unavailable, try again shortly" looks like from asyncpg: a refused
# connection is an OSError; a PostgreSQL that is shutting down or starting up answers
# CannotConnectNow or AdminShutdown (operator intervention, class 57P), and a connection
# dropped mid-query surfaces as a connection error (class 08) or as asyncpg's
# InternalClientError.
UNAVAILABLE: tuple[type[Exception], ...] = (
    OSError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,
)


class PostgresReadModel:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def store_vectors(self, vectors: Sequence[FeaturesComputed]) -> None:
        async with self.db.acquire() as conn:
            await upsert_vectors(conn=conn, vectors=vectors)

    async def store_schedule(self, games: Sequence[GameScheduled]) -> None:
        latest = {g.game_id: g for g in games}
        async with self.db.acquire() as conn:
            await conn.executemany(
                """INSERT INTO gateway.schedule (game_id, game_date, season_type, home, away,
                       status, event_id) VALUES ($1, $2, $3, $4, $5, $6, $7)
                   ON CONFLICT (game_id) DO UPDATE
                   SET game_date = EXCLUDED.game_date, season_type = EXCLUDED.season_type,
                       home = EXCLUDED.home, away = EXCLUDED.away, status = EXCLUDED.status,
                       event_id = EXCLUDED.event_id
                   WHERE gateway.schedule.event_id IS DISTINCT FROM EXCLUDED.event_id""",
                [
                    (g.game_id, g.game_date, g.season_type, g.home, g.away, g.status, g.event_id)
                    for g in latest.values()
                ],
            )

    async def games_of(
        self, wanted: Sequence[tuple[str, dt.date]]
    ) -> dict[tuple[str, dt.date], ScheduledGame]:
        pairs = list(dict.fromkeys(wanted))
        if not pairs:
            return {}
        async with self.db.acquire() as conn:
            rows = await conn.fetch(
                """SELECT q.team, q.day, s.game_id, s.game_date, s.home, s.away, s.status
                   FROM unnest($1::text[], $2::date[]) AS q(team, day)
                   JOIN gateway.schedule s ON s.game_date = q.day
                    AND (s.home = q.team OR s.away = q.team)""",
                [t for t, _ in pairs],
                [d for _, d in pairs],
            )
        return {
            (r["team"], r["day"]): ScheduledGame(
                r["game_id"], r["game_date"], r["home"], r["away"], r["status"]
            )
            for r in rows
        }

    async def store_props(self, props: Sequence[PropPriced]) -> None:
        latest = {(p.player_id, p.game_date, p.stat.value, p.line): p for p in props}
        if not latest:
            return
        stats = {(p.player_id, p.game_date, p.stat.value): p.stat_lines for p in latest.values()}
        async with self.db.acquire() as conn, conn.transaction():
            await conn.executemany(
                """INSERT INTO gateway.slate (player_id, game_date, stat, line, team, edge,
                       payload, event_id) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8)
                   ON CONFLICT (player_id, game_date, stat, line) DO UPDATE
                   SET team = EXCLUDED.team, edge = EXCLUDED.edge, payload = EXCLUDED.payload,
                       event_id = EXCLUDED.event_id
                   WHERE gateway.slate.event_id IS DISTINCT FROM EXCLUDED.event_id""",
                [
                    (*key, p.team, p.edge, p.model_dump_json(), p.event_id)
                    for key, p in latest.items()
                ],
            )
            # Lines that moved: the props of the stat at lines no book posts now go.
            await conn.executemany(
                """DELETE FROM gateway.slate WHERE player_id = $1 AND game_date = $2
                   AND stat = $3 AND NOT (line = ANY($4::double precision[]))""",
                [(*key, lines) for key, lines in stats.items() if lines],
            )

    async def slate(
        self, day: dt.date, *, stat: str | None, team: str | None, min_edge: float, limit: int
    ) -> list[str]:
        async with self.db.acquire() as conn:
            rows = await conn.fetch(
                """SELECT payload::text AS p FROM gateway.slate
                   WHERE game_date = $1 AND ($2::text IS NULL OR stat = $2)
                     AND ($3::text IS NULL OR team = $3)
                     AND ($4::double precision <= 0 OR abs(edge) >= $4)
                   ORDER BY abs(edge) DESC NULLS LAST, player_id, stat, line LIMIT $5""",
                day,
                stat,
                team,
                min_edge,
                limit,
            )
        return [r["p"] for r in rows]

    async def slate_dates(self) -> list[dt.date]:
        async with self.db.acquire() as conn:
            rows = await conn.fetch(
                "SELECT DISTINCT game_date FROM gateway.slate ORDER BY game_date"
            )
        return [r["game_date"] for r in rows]

    async def store_model(self, event: ModelPublished) -> None:
        async with self.db.acquire() as conn:
            await upsert_model(conn=conn, event=event)

    async def store_ab_tests(self, reports: Sequence[AbTestReported]) -> None:
        async with self.db.acquire() as conn:
            await conn.executemany(
                """INSERT INTO gateway.ab_tests (stat, payload, last_day)
                   VALUES ($1, $2::jsonb, $3)
                   ON CONFLICT (stat) DO UPDATE
                   SET payload = EXCLUDED.payload, last_day = EXCLUDED.last_day,
                       updated_at = now()
                   WHERE gateway.ab_tests.last_day <= EXCLUDED.last_day""",
                [(r.stat.value, r.model_dump_json(), r.last_day) for r in reports],
            )

    async def ab_tests(self) -> list[str]:
        async with self.db.acquire() as conn:
            rows = await conn.fetch("SELECT payload::text AS p FROM gateway.ab_tests ORDER BY stat")
        return [r["p"] for r in rows]

    async def store_games(
        self, players: Sequence[PlayerGameIngested], teams: Sequence[TeamGameIngested]
    ) -> tuple[set[int], list[TeamGame]]:
        async with self.db.acquire() as conn, conn.transaction():
            touched = await upsert_player_games(conn=conn, games=players) if players else set()
            team_games = await upsert_team_games(conn=conn, games=teams) if teams else []
        return touched, team_games

    async def team_games_since(self, version: int) -> tuple[list[TeamGame], int]:
        async with self.db.acquire() as conn:
            return await team_games_since(conn=conn, version=version)

    async def players_named(self, name: str) -> list[Player]:
        async with self.db.acquire() as conn:
            rows = await find_players(conn=conn, name=name)
        return [Player(r["player_id"], r["player_name"], r["team"]) for r in rows]

    async def players_by_names(self, normalized_names: Sequence[str]) -> dict[str, Player]:
        async with self.db.acquire() as conn:
            found = await find_players_by_name(conn=conn, normalized_names=normalized_names)
        return {k: Player(r["player_id"], r["player_name"], r["team"]) for k, r in found.items()}

    async def names(self) -> list[str]:
        async with self.db.acquire() as conn:
            return await all_names(conn=conn)

    async def vectors_for(self, wanted: Sequence[tuple[int, dt.date | None]]) -> Vectors:
        async with self.db.acquire() as conn:
            return await vectors_for_many(conn=conn, wanted=wanted)

    async def history(self, player_id: int) -> list[tuple[PlayerGame, Shooting]]:
        async with self.db.acquire() as conn:
            return await history(conn=conn, player_id=player_id)

    async def models(self) -> list[StoredModel]:
        async with self.db.acquire() as conn:
            rows = await list_models(conn=conn)
        return [StoredModel(r["payload"], r["alias"], r["updated_at"]) for r in rows]


async def upsert_vectors(*, conn: asyncpg.Connection, vectors: Sequence[FeaturesComputed]) -> None:
    async with conn.transaction():
        await conn.executemany(
            """INSERT INTO gateway.feature_vectors (player_id, as_of, feature_set_version,
                   vector, features, event_id, game, data_as_of)
               VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7::jsonb, $8)
               ON CONFLICT (player_id, as_of) DO UPDATE
               SET feature_set_version = EXCLUDED.feature_set_version,
                   vector = EXCLUDED.vector, features = EXCLUDED.features,
                   event_id = EXCLUDED.event_id,
                   game = EXCLUDED.game, data_as_of = EXCLUDED.data_as_of
               WHERE gateway.feature_vectors.event_id IS DISTINCT FROM EXCLUDED.event_id""",
            [
                (
                    v.player_id,
                    v.as_of,
                    v.feature_set_version,
                    *stored_form(v),
                    v.event_id,
                    v.game.model_dump_json() if v.game is not None else None,
                    v.last_game.game_date if v.last_game is not None else None,
                )
                for v in vectors
            ],
        )
        await conn.executemany(
            """INSERT INTO gateway.players (player_id, player_name, normalized_name, team,
                   last_as_of) VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (player_id) DO UPDATE SET player_name = EXCLUDED.player_name,
                   normalized_name = EXCLUDED.normalized_name, team = EXCLUDED.team,
                   last_as_of = EXCLUDED.last_as_of
               WHERE gateway.players.last_as_of <= EXCLUDED.last_as_of""",
            [
                (v.player_id, v.player_name, normalize_name(v.player_name), v.team, v.as_of)
                for v in vectors
            ],
        )


async def upsert_model(*, conn: asyncpg.Connection, event: ModelPublished) -> None:
    await conn.execute(
        """INSERT INTO gateway.models (version, serving_key, alias, payload)
           VALUES ($1, $2, $3, $4::jsonb)
           ON CONFLICT (version) DO UPDATE SET alias = EXCLUDED.alias,
               payload = EXCLUDED.payload, updated_at = now()""",
        event.version,
        event.key,
        event.alias,
        event.model_dump_json(),
    )


async def find_players(*, conn: asyncpg.Connection, name: str) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT player_id, player_name, team FROM gateway.players WHERE normalized_name = $1 "
        "ORDER BY last_as_of DESC, player_id",
        normalize_name(name),
    )
    return rows


async def find_players_by_name(
    *, conn: asyncpg.Connection, normalized_names: Sequence[str]
) -> dict[str, asyncpg.Record]:
    """For each of these normalised names that is known, the player it means: the one seen
    last (the first row `find_players` gives), in one query."""
    rows = await conn.fetch(
        """SELECT DISTINCT ON (normalized_name) normalized_name, player_id, player_name, team
           FROM gateway.players WHERE normalized_name = ANY($1::text[])
           ORDER BY normalized_name, last_as_of DESC, player_id""",
        list(normalized_names),
    )
    return {r["normalized_name"]: r for r in rows}


async def all_names(*, conn: asyncpg.Connection) -> list[str]:
    return [r["player_name"] for r in await conn.fetch("SELECT player_name FROM gateway.players")]


async def vectors_for_many(
    *, conn: asyncpg.Connection, wanted: Sequence[tuple[int, dt.date | None]]
) -> Vectors:
    """For each (player_id, game_date), in one query, the latest vector usable for a game on
    that date (as_of <= game_date; no date: the latest), as (as_of, its values: packed bytes,
    or the JSON text of a row stored before they were packed, parsed by the caller off the
    event loop). A packed row of another feature set than this code's is not usable (its
    order is unknown here). Pairs without a vector are absent."""
    pairs = list(dict.fromkeys(wanted))
    rows = await conn.fetch(
        """SELECT q.i, v.as_of, v.p, v.f, v.g, v.data_as_of, v.event_id
           FROM unnest($1::integer[], $2::date[]) WITH ORDINALITY AS q(player_id, game_date, i)
           CROSS JOIN LATERAL (
               SELECT as_of, vector AS p, CASE WHEN vector IS NULL THEN features::text END AS f,
                      game::text AS g, data_as_of, event_id
               FROM gateway.feature_vectors fv
               WHERE fv.player_id = q.player_id
                 AND (q.game_date IS NULL OR fv.as_of <= q.game_date)
                 AND (fv.vector IS NULL OR fv.feature_set_version = $3)
               ORDER BY as_of DESC LIMIT 1) v""",
        [p for p, _ in pairs],
        [d for _, d in pairs],
        FEATURE_SET_VERSION,
    )
    return {
        pairs[r["i"] - 1]: StoredVector(
            r["as_of"],
            r["f"] if r["p"] is None else r["p"],
            r["g"],
            r["data_as_of"],
            r["event_id"],
        )
        for r in rows
    }


async def list_models(*, conn: asyncpg.Connection) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT payload::text AS payload, alias, updated_at FROM gateway.models "
        "ORDER BY serving_key, updated_at DESC"
    )
    return rows


async def upsert_player_games(
    *, conn: asyncpg.Connection, games: Sequence[PlayerGameIngested]
) -> set[int]:
    """Returns the players whose games are new or changed (their cached context is stale)."""
    rows = await conn.fetch(
        """INSERT INTO gateway.player_games (player_id, game_key, game_date, season, season_type,
               team, opponent, is_home, minutes, points, rebounds, assists, threes, steals,
               blocks, fga, fta, tov, event_id)
           SELECT * FROM unnest($1::integer[], $2::text[], $3::date[], $4::text[], $5::text[],
               $6::text[], $7::text[], $8::boolean[], $9::float8[], $10::integer[],
               $11::integer[], $12::integer[], $13::integer[], $14::integer[], $15::integer[],
               $16::integer[], $17::integer[], $18::integer[], $19::text[])
           ON CONFLICT (player_id, game_key) DO UPDATE SET game_date = EXCLUDED.game_date,
               season = EXCLUDED.season, season_type = EXCLUDED.season_type,
               team = EXCLUDED.team, opponent = EXCLUDED.opponent, is_home = EXCLUDED.is_home,
               minutes = EXCLUDED.minutes, points = EXCLUDED.points,
               rebounds = EXCLUDED.rebounds, assists = EXCLUDED.assists,
               threes = EXCLUDED.threes, steals = EXCLUDED.steals, blocks = EXCLUDED.blocks,
               fga = EXCLUDED.fga, fta = EXCLUDED.fta, tov = EXCLUDED.tov,
               event_id = EXCLUDED.event_id
           WHERE gateway.player_games.event_id IS DISTINCT FROM EXCLUDED.event_id
              -- a replay brings the columns a row stored before migration 0008 lacks
              OR (gateway.player_games.steals IS NULL AND EXCLUDED.steals IS NOT NULL)
              OR (gateway.player_games.blocks IS NULL AND EXCLUDED.blocks IS NOT NULL)
           RETURNING player_id""",
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
    return {r["player_id"] for r in rows}


async def upsert_team_games(
    *, conn: asyncpg.Connection, games: Sequence[TeamGameIngested]
) -> list[TeamGame]:
    """Store team boxes (inside the caller's transaction), tagged with the next league
    version; returns the complete ones that are new or changed. Taking the version locks its
    row until the transaction ends, so versions commit in order: a reader that has seen
    version v never sees a box of version <= v appear later."""
    version = await conn.fetchval(
        "UPDATE gateway.league_version SET version = version + 1 RETURNING version"
    )
    rows = await conn.fetch(
        """INSERT INTO gateway.team_games (game_key, team, game_date, season, points,
               points_allowed, possessions, minutes, event_id, version)
           SELECT *, $10::bigint FROM unnest($1::text[], $2::text[], $3::date[], $4::text[],
               $5::integer[], $6::integer[], $7::float8[], $8::float8[], $9::text[])
           ON CONFLICT (game_key, team) DO UPDATE SET points = EXCLUDED.points,
               points_allowed = EXCLUDED.points_allowed, possessions = EXCLUDED.possessions,
               minutes = EXCLUDED.minutes, event_id = EXCLUDED.event_id,
               version = EXCLUDED.version
           WHERE gateway.team_games.event_id IS DISTINCT FROM EXCLUDED.event_id
           RETURNING game_date, season, team, points_allowed, possessions, minutes""",
        *zip(
            *[
                (
                    g.game_key,
                    g.team,
                    g.game_date,
                    g.season,
                    g.points,
                    g.opponent_points,
                    possessions_of(g),
                    g.minutes,
                    g.event_id,
                )
                for g in games
            ],
            strict=True,
        ),
        version,
    )
    return [
        TeamGame.of(r)
        for r in rows
        if r["points_allowed"] is not None and r["possessions"] is not None and r["minutes"]
    ]


async def team_games_since(*, conn: asyncpg.Connection, version: int) -> tuple[list[TeamGame], int]:
    """The complete team boxes stored (or changed) after league version `version`, and the
    version they bring the reader to."""
    rows = await conn.fetch(
        """SELECT game_date, season, team, points_allowed, possessions, minutes, version
           FROM gateway.team_games WHERE version > $1 AND points_allowed IS NOT NULL
             AND possessions IS NOT NULL AND minutes > 0""",
        version,
    )
    return [TeamGame.of(r) for r in rows], max((r["version"] for r in rows), default=version)


async def history(*, conn: asyncpg.Connection, player_id: int) -> list[tuple[PlayerGame, Shooting]]:
    rows = await conn.fetch(
        """SELECT game_date, season, season_type, team, opponent, is_home, minutes, points,
                  rebounds, assists, threes, steals, blocks, fga, fta, tov AS turnovers
           FROM gateway.player_games WHERE player_id = $1 ORDER BY game_date""",
        player_id,
    )
    return [
        (
            PlayerGame.of(r),
            Shooting(r["fga"], r["fta"], r["turnovers"]),
        )
        for r in rows
    ]
