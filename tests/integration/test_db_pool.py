"""The connection pool against real PostgreSQL: by default a connection comes back reset (as
asyncpg resets it); without session state (`session_state=False`, the features service) the
reset query is skipped, so what a caller set stays, but an open transaction is still rolled
back."""

import pytest

from statmuse_shared.platform.db import create_pool

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("session_state", [True, False])
async def test_a_connection_comes_back_out_of_any_transaction(
    database_url: str, session_state: bool
) -> None:
    pool = await create_pool(database_url, max_size=1, session_state=session_state)
    try:
        async with pool.acquire() as conn:
            await conn.execute("SET application_name = 'left behind'")
            await conn.execute("CREATE TABLE t (x integer)")
            await conn.execute("BEGIN")  # unmanaged: the pool must roll it back
            await conn.execute("INSERT INTO t VALUES (1)")
        async with pool.acquire() as conn:
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SELECT count(*) FROM t") == 0
            name = await conn.fetchval("SHOW application_name")
        # The reset query (RESET ALL among others) runs only for connections with state.
        assert (name == "left behind") is not session_state
    finally:
        await pool.close()
