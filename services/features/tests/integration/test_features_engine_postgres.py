"""The unit tests' consumer-group scenario (tests/unit/group.py) over PostgreSQL: random arrival
orders, batches, rebalances, restarts, failures and reconciles by two engines sharing one
database, with who is out for some of the games coming in between, end with the vectors a batch
build from the same tables gives, and a replay of the whole topic stores and publishes nothing.
The same property as the unit test over the in-memory repository, which it also keeps honest:
the fake must behave as these statements do.
"""

import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from statmuse_features.adapters.postgres import PostgresFeatures
from statmuse_shared.platform.db import Database, create_pool
from statmuse_shared.platform.migrations import migrate

from ..unit.fakes import Faulty
from ..unit.group import play, player_games, reconcile_again, replay, start
from ..unit.season import RawEvent, reports, seasons
from .test_features_handler import batch_build

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(database_url: str) -> Any:
    await migrate(database_url, schemas=["features"])
    p = await create_pool(database_url, max_size=4)
    yield p
    await p.close()


async def rows(pool: Any) -> dict[tuple[int, dt.date], tuple[Any, ...]]:
    found = await pool.fetch(
        "SELECT player_id, as_of, kind, event_id, vector, computed_at FROM features.feature_vectors"
    )
    return {(r["player_id"], r["as_of"]): tuple(r) for r in found}


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,  # the tables are emptied for each example
    ],
)
@given(events=seasons(), data=st.data())
async def test_any_arrival_and_delivery_over_postgres(
    pool: Any, events: list[RawEvent], data: st.DataObject
) -> None:
    await pool.execute(
        "TRUNCATE features.player_games, features.team_games, features.feature_vectors, "
        "features.partitions, features.availability; UPDATE features.league SET revision = 1"
    )
    features = PostgresFeatures(Database.of(pool))
    group = await start(Faulty(features), events, data, data.draw(reports(events)))
    await play(group, data)

    batch, stored = await batch_build(pool), await rows(pool)
    assert {k for k in batch if stored.get(k, ("",) * 3)[2] == "game"} == player_games(events)
    differ = [k for k, event_id in batch.items() if k not in stored or stored[k][3] != event_id]
    assert not differ, f"{len(differ)} of {len(batch)} vectors differ from a batch build"
    assert all(row[2] == "next" for k, row in stored.items() if k not in batch)

    assert await reconcile_again(group) == [], "nothing is left to reconcile"
    assert await replay(group, data) == [], "a replay publishes nothing"
    assert await rows(pool) == stored, "a replay stores nothing"
