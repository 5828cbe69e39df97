"""Data quality over the last day of ingest runs: how many rows came without a critical field
(missing), how many were flagged as outliers against the player's own history, how many runs
failed at the source, and how old the newest game is. Each measurement is kept in
`ingest.data_quality` and exported as gauges for the alert rules (deploy/prometheus)."""

import datetime as dt
import time
from dataclasses import dataclass

import asyncpg

from statmuse_ingestor import metrics

WINDOW = dt.timedelta(hours=24)
# The reject reasons that mean a box-score field was absent (service.RejectedRow: "missing
# ..."), on the player rows the read count is made of.
MISSING = "player: missing %"


@dataclass(frozen=True, slots=True)
class Quality:
    measured_at: dt.datetime
    runs: int
    runs_failed: int
    rows_read: int
    rows_missing: int
    rows_rejected: int
    rows_flagged: int
    last_game_date: dt.date | None

    @staticmethod
    def _ratio(part: int, whole: int) -> float | None:
        return part / whole if whole else None

    @property
    def missing_ratio(self) -> float | None:
        return self._ratio(self.rows_missing, self.rows_read)

    @property
    def outlier_ratio(self) -> float | None:
        return self._ratio(self.rows_flagged, self.rows_read)

    @property
    def source_failure_ratio(self) -> float | None:
        return self._ratio(self.runs_failed, self.runs)

    @property
    def freshness_hours(self) -> float | None:
        """Hours from the end of the newest game day stored to the measurement."""
        if self.last_game_date is None:
            return None
        end = dt.datetime.combine(
            self.last_game_date + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC
        )
        return max((self.measured_at - end).total_seconds() / 3600, 0.0)


async def measure(
    conn: asyncpg.Connection, *, now: dt.datetime | None = None, window: dt.timedelta = WINDOW
) -> Quality:
    """Measure, store and export the data quality of the runs started in the last `window`."""
    now = now or dt.datetime.now(dt.UTC)
    since = now - window
    runs = await conn.fetchrow(
        """SELECT count(*) AS runs, count(*) FILTER (WHERE status = 'failed') AS failed,
                  coalesce(sum(rows_read), 0) AS read,
                  coalesce(sum(rows_rejected), 0) AS rejected,
                  coalesce(sum(rows_flagged), 0) AS flagged
           FROM ingest.ingest_runs WHERE started_at > $1 AND started_at <= $2""",
        since,
        now,
    )
    missing = await conn.fetchval(
        """SELECT count(*) FROM ingest.rejects r JOIN ingest.ingest_runs i USING (run_id)
           WHERE i.started_at > $1 AND i.started_at <= $2 AND r.reason LIKE $3""",
        since,
        now,
        MISSING,
    )
    last = await conn.fetchval("SELECT max(game_date) FROM ingest.player_game_stats")
    q = Quality(
        now,
        runs["runs"],
        runs["failed"],
        runs["read"],
        missing,
        runs["rejected"],
        runs["flagged"],
        last,
    )
    await conn.execute(
        """INSERT INTO ingest.data_quality (measured_at, window_hours, runs, runs_failed,
               rows_read, rows_missing, rows_rejected, rows_flagged, last_game_date,
               missing_ratio, outlier_ratio, source_failure_ratio, freshness_hours)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
           ON CONFLICT (measured_at) DO NOTHING""",
        q.measured_at,
        int(window.total_seconds() // 3600),
        q.runs,
        q.runs_failed,
        q.rows_read,
        q.rows_missing,
        q.rows_rejected,
        q.rows_flagged,
        q.last_game_date,
        q.missing_ratio,
        q.outlier_ratio,
        q.source_failure_ratio,
        q.freshness_hours,
    )
    export(q)
    return q


def export(q: Quality) -> None:
    """Gauges for Prometheus; a ratio with nothing behind it (no rows, no runs) reads 0."""
    metrics.MISSING_RATIO.set(q.missing_ratio or 0.0)
    metrics.OUTLIER_RATIO.set(q.outlier_ratio or 0.0)
    metrics.SOURCE_FAILURE_RATIO.set(q.source_failure_ratio or 0.0)
    if q.last_game_date is not None:
        metrics.LAST_GAME_DATE.set(time.mktime(q.last_game_date.timetuple()))
