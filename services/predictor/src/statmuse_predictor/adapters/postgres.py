"""Schema `predictions` through asyncpg: the `PredictionRepository` of the service."""

import json
from collections import defaultdict
from collections.abc import Sequence

from statmuse_predictor.ports import GameOf, Latest, Posted, Pregame
from statmuse_shared.contract.messages import FeaturesComputed, PredictionMade, PropLinePosted
from statmuse_shared.contract.stats import Stat
from statmuse_shared.contract.vectors import from_stored, stored_form
from statmuse_shared.features import FEATURE_SET_VERSION, features_json
from statmuse_shared.platform.db import Database


class PostgresPredictions:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def keep_latest(self, vectors: Sequence[FeaturesComputed]) -> None:
        if not vectors:
            return
        async with self.db.acquire() as conn:
            await conn.executemany(
                """INSERT INTO predictions.latest_features (player_id, player_name, as_of,
                       feature_set_version, vector, features, game_date)
                   VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)
                   ON CONFLICT (player_id) DO UPDATE SET player_name = EXCLUDED.player_name,
                       as_of = EXCLUDED.as_of, feature_set_version = EXCLUDED.feature_set_version,
                       vector = EXCLUDED.vector, features = EXCLUDED.features,
                       game_date = EXCLUDED.game_date, updated_at = now()
                   WHERE predictions.latest_features.as_of <= EXCLUDED.as_of""",
                [
                    (
                        v.player_id,
                        v.player_name,
                        v.as_of,
                        v.feature_set_version,
                        *stored_form(v),  # packed, or JSON for any other vector
                        v.game.game_date if v.game is not None else None,
                    )
                    for v in vectors
                ],
            )

    async def latest(self) -> list[Latest]:
        """Every player's latest vector; a packed one of another feature set than this code's
        is left out (its order is unknown here: the features service republishes it)."""
        async with self.db.acquire() as conn:
            rows = await conn.fetch(
                """SELECT player_id, player_name, as_of, game_date, vector,
                          CASE WHEN vector IS NULL THEN features::text END AS f
                   FROM predictions.latest_features
                   WHERE vector IS NULL OR feature_set_version = $1""",
                FEATURE_SET_VERSION,
            )
        return [
            Latest(
                r["player_id"],
                r["player_name"],
                r["as_of"],
                r["game_date"],
                from_stored(r["f"] if r["vector"] is None else r["vector"]),
            )
            for r in rows
        ]

    async def store(self, made: Sequence[PredictionMade]) -> None:
        if not made:
            return
        async with self.db.acquire() as conn:
            await conn.executemany(
                """INSERT INTO predictions.predictions (player_id, stat, as_of, model_version,
                       predicted_value, payload, event_id)
                   VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)
                   ON CONFLICT (player_id, stat, as_of, model_version) DO NOTHING""",
                [
                    (
                        p.player_id,
                        p.stat.value,
                        p.as_of,
                        p.model_version,
                        p.predicted_value,
                        p.model_dump_json(),
                        p.event_id,
                    )
                    for p in made
                ],
            )

    async def store_lines(self, lines: Sequence[PropLinePosted]) -> list[GameOf]:
        # Last one read wins: a batch's later message for the same key replaces the earlier.
        latest = {
            (x.player_id, x.game_date, x.stat.value, x.book): x
            for x in lines
            if x.player_id is not None
        }
        if not latest:
            return []
        async with self.db.acquire() as conn:
            await conn.executemany(
                """INSERT INTO predictions.posted_lines (player_id, game_date, stat, book,
                       game_key, player_name, line, over_price, under_price)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                   ON CONFLICT (player_id, game_date, stat, book) DO UPDATE
                   SET game_key = EXCLUDED.game_key, player_name = EXCLUDED.player_name,
                       line = EXCLUDED.line, over_price = EXCLUDED.over_price,
                       under_price = EXCLUDED.under_price, updated_at = now()""",
                [
                    (*key, x.game_key, x.player_name, x.line, x.over_price, x.under_price)
                    for key, x in latest.items()
                ],
            )
        return list(dict.fromkeys((pid, day) for pid, day, _, _ in latest))

    async def keep_pregame(self, vectors: Sequence[FeaturesComputed]) -> list[GameOf]:
        pregame = {
            (v.player_id, v.game.game_date): v
            for v in vectors
            if v.kind == "game" and v.game is not None and v.outcome is None
        }
        played = [
            (v.player_id, v.game.game_date)
            for v in vectors
            if v.kind == "game" and v.game is not None and v.outcome is not None
        ]
        async with self.db.acquire() as conn, conn.transaction():
            if pregame:
                await conn.executemany(
                    """INSERT INTO predictions.pregame_features (player_id, game_date,
                           player_name, team, opponent, is_home, as_of, data_as_of, features)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb)
                       ON CONFLICT (player_id, game_date) DO UPDATE
                       SET player_name = EXCLUDED.player_name, team = EXCLUDED.team,
                           opponent = EXCLUDED.opponent, is_home = EXCLUDED.is_home,
                           as_of = EXCLUDED.as_of, data_as_of = EXCLUDED.data_as_of,
                           features = EXCLUDED.features, updated_at = now()""",
                    [
                        (
                            pid,
                            day,
                            v.player_name,
                            v.team,
                            v.game.opponent,
                            v.game.is_home,
                            v.as_of,
                            v.last_game.game_date if v.last_game is not None else None,
                            features_json(v.features),
                        )
                        for (pid, day), v in pregame.items()
                        if v.game is not None
                    ],
                )
            if played:  # one statement: a backfill brings thousands of played games
                await conn.execute(
                    """DELETE FROM predictions.pregame_features v
                       USING unnest($1::integer[], $2::date[]) AS q(player_id, game_date)
                       WHERE v.player_id = q.player_id AND v.game_date = q.game_date""",
                    [p for p, _ in played],
                    [d for _, d in played],
                )
        done = set(played)
        return [g for g in pregame if g not in done]

    async def slate(
        self, games: Sequence[GameOf] | None = None
    ) -> list[tuple[Pregame, list[Posted]]]:
        query = """SELECT v.player_id, v.game_date, v.player_name, v.team, v.opponent,
                          v.is_home, v.as_of, v.data_as_of, v.features::text AS f,
                          l.game_key, l.stat, l.book, l.line, l.over_price, l.under_price
                   FROM predictions.pregame_features v
                   JOIN predictions.posted_lines l USING (player_id, game_date)"""
        async with self.db.acquire() as conn:
            if games is None:
                rows = await conn.fetch(query + " ORDER BY 1, 2, l.stat, l.book")
            else:
                pairs = list(dict.fromkeys(games))
                if not pairs:
                    return []
                rows = await conn.fetch(
                    query
                    + """ JOIN unnest($1::integer[], $2::date[]) AS q(player_id, game_date)
                                USING (player_id, game_date) ORDER BY 1, 2, l.stat, l.book""",
                    [p for p, _ in pairs],
                    [d for _, d in pairs],
                )
        grouped: dict[GameOf, tuple[Pregame, list[Posted]]] = {}
        lines: defaultdict[GameOf, list[Posted]] = defaultdict(list)
        for r in rows:
            at = (r["player_id"], r["game_date"])
            if at not in grouped:
                grouped[at] = (
                    Pregame(
                        r["player_id"],
                        r["player_name"],
                        r["team"],
                        r["game_date"],
                        r["opponent"],
                        r["is_home"],
                        r["as_of"],
                        r["data_as_of"],
                        json.loads(r["f"]),
                    ),
                    lines[at],
                )
            lines[at].append(
                Posted(
                    r["game_key"],
                    Stat(r["stat"]),
                    r["book"],
                    r["line"],
                    r["over_price"],
                    r["under_price"],
                )
            )
        return list(grouped.values())
