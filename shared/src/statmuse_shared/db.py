"""asyncpg pool creation. Pools open in a service's lifespan and close in its finally."""

import asyncpg


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, command_timeout=30, timeout=5
    )
    if pool is None:  # asyncpg types it Optional
        raise RuntimeError("asyncpg returned no pool")
    return pool
