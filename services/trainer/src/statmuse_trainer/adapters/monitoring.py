"""The monitor's tables (`registry.monitor_*`, migration 0005) through asyncpg: the
`MonitorRepository`."""

import datetime as dt
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager

import asyncpg

from statmuse_shared.contract.messages import PredictionMade
from statmuse_shared.contract.stats import Stat
from statmuse_shared.platform.db import Database, lock_key
from statmuse_trainer.monitoring.drift import SeriesDrift
from statmuse_trainer.monitoring.performance import (
    BookProp,
    DayMetrics,
    LineQuote,
    OtherArm,
    StoredPrediction,
)

DAY_METRICS = (
    "stat, day, predictions, bets, wins, losses, pushes, hit_rate, brier, ece, roi, profit, "
    "mean_over_probability, over_rate, bets_7d, hit_rate_7d, ece_7d"
)


def _quotes(lines: Sequence[Mapping[str, float]]) -> tuple[LineQuote, ...]:
    return tuple(
        LineQuote(q["line"], q["over_probability"], q["under_probability"], q["push_probability"])
        for q in lines
    )


def _other_arm(text: str | None) -> OtherArm | None:
    if text is None:
        return None
    raw = json.loads(text)
    return OtherArm(raw["arm"], raw["model_version"], _quotes(raw["lines"]))


class PostgresMonitor:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def store_predictions(self, made: Sequence[PredictionMade]) -> int:
        rows = [
            (
                p.event_id,
                p.player_id,
                p.stat.value,
                p.as_of,
                p.predicted_value,
                json.dumps([q.model_dump() for q in p.lines]),
                p.model_version,
                p.occurred_at,
                p.arm,
                None if p.other_arm is None else p.other_arm.model_dump_json(),
            )
            for p in made
        ]
        if not rows:
            return 0
        async with self.db.acquire() as conn:
            inserted: int = await conn.fetchval(
                """WITH new AS (
                       INSERT INTO registry.monitor_predictions (event_id, player_id, stat,
                           as_of, predicted_value, lines, model_version, occurred_at, arm,
                           other_arm)
                       SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::date[],
                                            $5::float8[], $6::jsonb[], $7::text[],
                                            $8::timestamptz[], $9::text[], $10::jsonb[])
                       ON CONFLICT (event_id) DO NOTHING
                       RETURNING 1)
                   SELECT count(*) FROM new""",
                *[list(column) for column in zip(*rows, strict=True)],
            )
        return inserted

    async def stored_predictions(
        self, *, stat: Stat, first: dt.date, last: dt.date
    ) -> list[StoredPrediction]:
        async with self.db.acquire() as conn:
            records = await conn.fetch(
                """SELECT event_id, player_id, as_of, predicted_value, lines::text AS lines,
                          model_version, occurred_at, arm, other_arm::text AS other_arm
                   FROM registry.monitor_predictions
                   WHERE stat = $1 AND as_of BETWEEN $2 AND $3""",
                stat.value,
                first,
                last,
            )
        return [
            StoredPrediction(
                event_id=r["event_id"],
                player_id=r["player_id"],
                stat=stat,
                as_of=r["as_of"],
                predicted_value=r["predicted_value"],
                lines=_quotes(json.loads(r["lines"])),
                model_version=r["model_version"],
                occurred_at=r["occurred_at"],
                arm=r["arm"],
                other=_other_arm(r["other_arm"]),
            )
            for r in records
        ]

    async def store_ab_props(self, props: Sequence[BookProp]) -> int:
        if not props:
            return 0
        async with self.db.acquire() as conn:
            stored: int = await conn.fetchval(
                """WITH new AS (
                       INSERT INTO registry.monitor_ab_props (player_id, stat, game_date, line,
                           production_version, challenger_version, production_over,
                           challenger_over, books_over, priced_at)
                       SELECT * FROM unnest($1::int[], $2::text[], $3::date[], $4::float8[],
                                            $5::text[], $6::text[], $7::float8[], $8::float8[],
                                            $9::float8[], $10::timestamptz[])
                       ON CONFLICT (player_id, stat, game_date, line, production_version,
                                    challenger_version) DO UPDATE
                       SET production_over = EXCLUDED.production_over,
                           challenger_over = EXCLUDED.challenger_over,
                           books_over = EXCLUDED.books_over, priced_at = EXCLUDED.priced_at
                       WHERE registry.monitor_ab_props.priced_at < EXCLUDED.priced_at
                       RETURNING 1)
                   SELECT count(*) FROM new""",
                [p.player_id for p in props],
                [p.stat.value for p in props],
                [p.game_date for p in props],
                [p.line for p in props],
                [p.production_version for p in props],
                [p.challenger_version for p in props],
                [p.production_over for p in props],
                [p.challenger_over for p in props],
                [p.books_over for p in props],
                [p.priced_at for p in props],
            )
        return stored

    async def ab_props(self, *, stat: Stat, first: dt.date, last: dt.date) -> list[BookProp]:
        async with self.db.acquire() as conn:
            rows = await conn.fetch(
                """SELECT player_id, game_date, line, production_version, challenger_version,
                          production_over, challenger_over, books_over, priced_at
                   FROM registry.monitor_ab_props
                   WHERE stat = $1 AND game_date BETWEEN $2 AND $3""",
                stat.value,
                first,
                last,
            )
        return [BookProp(stat=stat, **dict(r)) for r in rows]

    async def save_day_metrics(self, rows: Sequence[DayMetrics]) -> None:
        async with self.db.acquire() as conn:
            await conn.executemany(
                f"""INSERT INTO registry.monitor_daily_metrics ({DAY_METRICS})
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
                           $16, $17)
                   ON CONFLICT (stat, day) DO UPDATE SET predictions = EXCLUDED.predictions,
                       bets = EXCLUDED.bets, wins = EXCLUDED.wins, losses = EXCLUDED.losses,
                       pushes = EXCLUDED.pushes, hit_rate = EXCLUDED.hit_rate,
                       brier = EXCLUDED.brier, ece = EXCLUDED.ece, roi = EXCLUDED.roi,
                       profit = EXCLUDED.profit,
                       mean_over_probability = EXCLUDED.mean_over_probability,
                       over_rate = EXCLUDED.over_rate, bets_7d = EXCLUDED.bets_7d,
                       hit_rate_7d = EXCLUDED.hit_rate_7d, ece_7d = EXCLUDED.ece_7d,
                       computed_at = now()""",
                [
                    (
                        m.stat.value,
                        m.day,
                        m.predictions,
                        m.bets,
                        m.wins,
                        m.losses,
                        m.pushes,
                        m.hit_rate,
                        m.brier,
                        m.ece,
                        m.roi,
                        m.profit,
                        m.mean_over_probability,
                        m.over_rate,
                        m.bets_7d,
                        m.hit_rate_7d,
                        m.ece_7d,
                    )
                    for m in rows
                ],
            )

    async def roi_history(
        self, *, stat: Stat, until: dt.date, days: int = 366
    ) -> list[tuple[dt.date, int, float | None]]:
        async with self.db.acquire() as conn:
            records = await conn.fetch(
                """SELECT day, bets, roi FROM registry.monitor_daily_metrics
                   WHERE stat = $1 AND day <= $2 ORDER BY day DESC LIMIT $3""",
                stat.value,
                until,
                days,
            )
        return [(r["day"], r["bets"], r["roi"]) for r in records]

    async def latest_day_metrics(self, *, until: dt.date | None = None) -> list[DayMetrics]:
        async with self.db.acquire() as conn:
            records = await conn.fetch(
                f"""SELECT DISTINCT ON (stat) {DAY_METRICS} FROM registry.monitor_daily_metrics
                    WHERE $1::date IS NULL OR day <= $1 ORDER BY stat, day DESC""",
                until,
            )
        return [DayMetrics(**{**dict(r), "stat": Stat(r["stat"])}) for r in records]

    async def save_drift_reports(
        self, *, day: dt.date, reports: Mapping[str, Sequence[SeriesDrift]]
    ) -> None:
        async with self.db.acquire() as conn, conn.transaction():
            for scope, rows in reports.items():
                await conn.executemany(
                    """INSERT INTO registry.monitor_drift_reports (day, scope, name, psi,
                           ks_statistic, ks_pvalue, reference_n, recent_n, reference_missing,
                           recent_missing, drifted, counted)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                       ON CONFLICT (day, scope, name) DO UPDATE SET psi = EXCLUDED.psi,
                           ks_statistic = EXCLUDED.ks_statistic,
                           ks_pvalue = EXCLUDED.ks_pvalue,
                           reference_n = EXCLUDED.reference_n, recent_n = EXCLUDED.recent_n,
                           reference_missing = EXCLUDED.reference_missing,
                           recent_missing = EXCLUDED.recent_missing,
                           drifted = EXCLUDED.drifted, counted = EXCLUDED.counted,
                           computed_at = now()""",
                    [
                        (
                            day,
                            scope,
                            r.name,
                            r.psi,
                            r.ks_statistic,
                            r.ks_pvalue,
                            r.reference_n,
                            r.recent_n,
                            r.reference_missing,
                            r.recent_missing,
                            r.drifted,
                            r.counted,
                        )
                        for r in rows
                    ],
                )

    @asynccontextmanager
    async def drift_alerts(self, stat: Stat) -> AsyncIterator["PostgresDriftAlerts"]:
        """A transaction holding the stat's transaction-scoped advisory lock: a second
        replica waits, then sees the first one's alert row."""
        async with self.db.acquire() as conn, conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock($1)", lock_key(f"drift-alert:{stat.value}")
            )
            yield PostgresDriftAlerts(conn, stat)


class PostgresDriftAlerts:
    def __init__(self, conn: asyncpg.Connection, stat: Stat) -> None:
        self.conn, self.stat = conn, stat

    async def last(self) -> dt.datetime | None:
        value: dt.datetime | None = await self.conn.fetchval(
            "SELECT max(fired_at) FROM registry.monitor_drift_alerts WHERE stat = $1",
            self.stat.value,
        )
        return value

    async def record(
        self,
        *,
        day: dt.date,
        fired_at: dt.datetime,
        event_id: str,
        reason: str,
        features: Sequence[str],
    ) -> None:
        await self.conn.execute(
            """INSERT INTO registry.monitor_drift_alerts (stat, day, fired_at, event_id,
                   reason, features) VALUES ($1, $2, $3, $4, $5, $6)""",
            self.stat.value,
            day,
            fired_at,
            event_id,
            reason,
            list(features),
        )
