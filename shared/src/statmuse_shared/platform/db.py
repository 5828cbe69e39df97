"""A service's PostgreSQL (`Database`: the asyncpg pool, made in `create_app`, opened in the
lifespan and closed in its finally) and advisory locks for jobs only one replica may run."""

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg


async def _rollback_only(conn: asyncpg.Connection) -> None:
    """A pool's reset for connections without session state: asyncpg has already rolled back
    an open transaction (and dropped listeners) before calling this; nothing else to undo."""


async def create_pool(
    dsn: str, *, min_size: int = 1, max_size: int = 10, session_state: bool = True
) -> asyncpg.Pool:
    """`session_state=False`: the caller keeps no session state on its connections (no LISTEN,
    no session advisory lock, no SET, no cursor left open), so a connection goes back to the
    pool without asyncpg's reset query, one round trip per checkout that a message-at-a-time
    consumer pays on every message. An open transaction is still rolled back."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        command_timeout=30,
        timeout=5,
        reset=None if session_state else _rollback_only,
    )
    if pool is None:  # asyncpg types it Optional
        raise RuntimeError("asyncpg returned no pool")
    return pool


class Database:
    """The service's connection pool. Built with the service (in `create_app`), connected when
    the service starts (`open`, in the lifespan: an asyncpg pool belongs to the event loop it
    was made in) and closed when it stops. `pool` before `open` (or after `close`) raises."""

    def __init__(self, dsn: str, *, max_size: int = 4, session_state: bool = True) -> None:
        self._dsn = dsn
        self._max_size = max_size
        self._session_state = session_state  # see `create_pool`
        self._pool: asyncpg.Pool | None = None

    @classmethod
    def of(cls, pool: asyncpg.Pool) -> "Database":
        """A Database over a pool that is already open (tests, one-shot commands)."""
        db = cls("", max_size=pool.get_max_size())
        db._pool = pool
        return db

    async def open(self) -> None:
        if self._pool is None:
            self._pool = await create_pool(
                self._dsn, max_size=self._max_size, session_state=self._session_state
            )

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    @property
    def is_open(self) -> bool:
        return self._pool is not None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the database is not open (the service has not started)")
        return self._pool

    def acquire(self) -> Any:  # asyncpg's PoolAcquireContext: `async with db.acquire() as conn`
        return self.pool.acquire()

    async def ping(self) -> bool:
        return self._pool is not None and await self._pool.fetchval("SELECT 1") == 1


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
