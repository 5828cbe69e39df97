"""The slate in PostgreSQL: priced props kept per player, game, stat and line, a moved line
dropped, and the filters and order GET /api/slate relies on."""

import datetime as dt
import json
import zlib
from typing import Any

import pytest

from statmuse_gateway.adapters.postgres import PostgresReadModel
from statmuse_shared.platform.db import Database, create_pool
from statmuse_shared.platform.migrations import migrate

from ..unit.fakes import priced

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(database_url: str) -> Any:
    await migrate(database_url, schemas=["gateway"])
    p = await create_pool(database_url)
    yield p
    await p.close()


async def test_props_filters_order_and_moved_lines(pool: Any, unique: str) -> None:
    rm = PostgresReadModel(Database.of(pool))
    # A day of its own: the database is shared with other tests.
    day = dt.date(2030, 1, 1) + dt.timedelta(days=zlib.crc32(unique.encode()) % 3000)
    await rm.store_props(
        [
            priced(1, day=day, over=0.56),
            priced(2, day=day, over=0.40, team="BOS", opponent="MIA"),
            priced(3, day=day, stat="rebounds", line=8.5, over=0.51),
            priced(4, day=day, books_over=None),
        ]
    )
    found = await rm.slate(day, stat=None, team=None, min_edge=0.0, limit=10)
    assert [json.loads(p)["player_id"] for p in found] == [
        2,
        1,
        3,
        4,
    ]  # |edge| 0.10, 0.06, 0.01, none
    assert len(await rm.slate(day, stat="rebounds", team=None, min_edge=0, limit=10)) == 1
    assert len(await rm.slate(day, stat=None, team="BOS", min_edge=0, limit=10)) == 1
    assert len(await rm.slate(day, stat=None, team=None, min_edge=0.05, limit=10)) == 2
    assert len(await rm.slate(day, stat=None, team=None, min_edge=0, limit=2)) == 2
    assert day in await rm.slate_dates()
    # Player 1's line moved to 25.5 at every book; the same message again changes nothing.
    moved = priced(1, day=day, line=25.5, over=0.52)
    await rm.store_props([moved])
    await rm.store_props([moved])
    points = await rm.slate(day, stat="points", team="LAL", min_edge=0, limit=10)
    lines = sorted((json.loads(p)["player_id"], json.loads(p)["line"]) for p in points)
    assert lines == [(1, 25.5), (4, 24.5)]  # player 4's 24.5 stays; player 1's went
