"""Schema `ingest` read for the operators: `PostgresReports`, the service's `ReportRepository`
(the counts the data-quality measurement is made of, the measurements kept, and what
`statmuse-ingestor status` shows)."""

import datetime as dt

from statmuse_ingestor.ports import IngestStatus, RunSummary
from statmuse_ingestor.quality import MISSING, Quality
from statmuse_shared.platform.db import Database


class PostgresReports:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def quality_counts(self, *, since: dt.datetime, until: dt.datetime) -> Quality:
        async with self.db.acquire() as conn:
            runs = await conn.fetchrow(
                """SELECT count(*) AS runs, count(*) FILTER (WHERE status = 'failed') AS failed,
                          coalesce(sum(rows_read), 0) AS read,
                          coalesce(sum(rows_rejected), 0) AS rejected,
                          coalesce(sum(rows_flagged), 0) AS flagged
                   FROM ingest.ingest_runs WHERE started_at > $1 AND started_at <= $2""",
                since,
                until,
            )
            missing = await conn.fetchval(
                """SELECT count(*) FROM ingest.rejects r JOIN ingest.ingest_runs i USING (run_id)
                   WHERE i.started_at > $1 AND i.started_at <= $2 AND r.reason LIKE $3""",
                since,
                until,
                MISSING,
            )
            last = await conn.fetchval("SELECT max(game_date) FROM ingest.player_game_stats")
        return Quality(
            until,
            runs["runs"],
            runs["failed"],
            runs["read"],
            missing,
            runs["rejected"],
            runs["flagged"],
            last,
        )

    async def record_quality(self, quality: Quality, *, window_hours: int) -> None:
        q = quality
        async with self.db.acquire() as conn:
            await conn.execute(
                """INSERT INTO ingest.data_quality (measured_at, window_hours, runs, runs_failed,
                       rows_read, rows_missing, rows_rejected, rows_flagged, last_game_date,
                       missing_ratio, outlier_ratio, source_failure_ratio, freshness_hours)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
                   ON CONFLICT (measured_at) DO NOTHING""",
                q.measured_at,
                window_hours,
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

    async def status(self) -> IngestStatus:
        async with self.db.acquire() as conn:
            last = await conn.fetchval("SELECT max(game_date) FROM ingest.player_game_stats")
            runs = await conn.fetch(
                """SELECT DISTINCT ON (status = 'succeeded') status, source, started_at,
                          finished_at, rows_read, rows_stored, rows_rejected, rows_flagged,
                          events_published
                   FROM ingest.ingest_runs ORDER BY status = 'succeeded', started_at DESC"""
            )
            unpublished = await conn.fetchval(
                "SELECT (SELECT count(*) FROM ingest.player_game_stats WHERE published_at IS NULL)"
                " + (SELECT count(*) FROM ingest.team_game_stats WHERE published_at IS NULL)"
            )
            reasons = await conn.fetch(
                "SELECT split_part(reason, ':', 1) || ':' || split_part(reason, ':', 2) AS reason,"
                " count(*) AS n FROM ingest.rejects GROUP BY 1 ORDER BY 2 DESC LIMIT 10"
            )
        return IngestStatus(
            last_game_date=last,
            runs=[RunSummary(**dict(r)) for r in runs],
            unpublished=unpublished,
            reject_reasons=[(r["reason"], r["n"]) for r in reasons],
        )
