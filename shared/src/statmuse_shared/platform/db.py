"""asyncpg pool creation (pools open in a service's lifespan and close in its finally) and
advisory locks for jobs that only one replica may run."""

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, command_timeout=30, timeout=5
    )
    if pool is None:  # asyncpg types it Optional
        raise RuntimeError("asyncpg returned no pool")
    return pool


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for a job name."""
    digest = hashlib.sha256(name.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@asynccontextmanager
async def try_advisory_lock(pool: asyncpg.Pool, name: str) -> AsyncIterator[bool]:
    """Hold a session advisory lock for the block if nobody else does; yields whether we got
    it. Two replicas scheduling the same job: one runs it, the other skips."""
    async with pool.acquire() as conn:
        got = bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", lock_key(name)))
        try:
            yield got
        finally:
            if got:
                await conn.execute("SELECT pg_advisory_unlock($1)", lock_key(name))
