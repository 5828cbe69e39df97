"""Scheduled runs done (`registry.scheduled_runs`) through asyncpg: the scheduler's `RunLog`
for the trainer's jobs, plus the newest run of a job (the daily job's catch-up)."""

import json
from collections.abc import Mapping
from typing import Any

from statmuse_shared.platform.db import Database


class PostgresScheduledRuns:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def done(self, job: str, run_key: str) -> bool:
        async with self.db.acquire() as conn:
            return bool(
                await conn.fetchval(
                    "SELECT EXISTS (SELECT 1 FROM registry.scheduled_runs "
                    "WHERE job = $1 AND run_key = $2)",
                    job,
                    run_key,
                )
            )

    async def record(self, job: str, run_key: str, detail: Mapping[str, Any]) -> None:
        async with self.db.acquire() as conn:
            await conn.execute(
                """INSERT INTO registry.scheduled_runs (job, run_key, detail)
                   VALUES ($1, $2, $3::jsonb)
                   ON CONFLICT (job, run_key) DO UPDATE
                   SET finished_at = now(), detail = EXCLUDED.detail""",
                job,
                run_key,
                json.dumps(dict(detail)),
            )

    async def last(self, job: str) -> str | None:
        async with self.db.acquire() as conn:
            value: str | None = await conn.fetchval(
                "SELECT run_key FROM registry.scheduled_runs WHERE job = $1 "
                "ORDER BY run_key DESC LIMIT 1",
                job,
            )
        return value
