"""The read model's vectors against real PostgreSQL: stored packed (migration 0009) and read
back to the bit; a row stored as JSON before that migration still reads; a packed row of
another feature set is not used (its order is not this code's), the latest usable one is."""

import datetime as dt
from typing import Any

import pytest

from statmuse_gateway.adapters.postgres import PostgresReadModel
from statmuse_shared.contract import ids
from statmuse_shared.contract.messages import FeaturesComputed
from statmuse_shared.features import FEATURE_SET_VERSION, feature_names, features_json, pack
from statmuse_shared.platform.db import Database, create_pool
from statmuse_shared.platform.migrations import migrate

pytestmark = pytest.mark.integration
NAMES = feature_names()
DAY = dt.date(2024, 3, 12)


def vector(as_of: dt.date, first: float) -> FeaturesComputed:
    features = {n: (i / 7 if i % 4 else None) for i, n in enumerate(NAMES)}
    features[NAMES[1]] = first
    return FeaturesComputed(
        event_id=ids.event_id("t", 2544, as_of, first),
        player_id=2544,
        player_name="LeBron James",
        team="LAL",
        season="2023-24",
        as_of=as_of,
        feature_set_version=FEATURE_SET_VERSION,
        features=features,
    )


@pytest.fixture
async def read_model(database_url: str) -> Any:
    await migrate(database_url, schemas=["gateway"])
    pool = await create_pool(database_url)
    await pool.execute("TRUNCATE gateway.feature_vectors")
    yield PostgresReadModel(Database.of(pool)), pool
    await pool.close()


async def test_vectors_are_stored_packed_and_read_back_to_the_bit(read_model: Any) -> None:
    model, pool = read_model
    stored = vector(DAY, 1 / 3)
    await model.store_vectors([stored])

    row = await pool.fetchrow("SELECT vector, features FROM gateway.feature_vectors")
    assert (row["vector"], row["features"]) == (pack(stored.features), None)
    [found] = (await model.vectors_for([(2544, None)])).values()
    values = found.values()
    assert values == stored.features
    assert values[NAMES[1]] == 1 / 3  # exact: no rounding on the way


async def test_a_json_row_from_before_still_reads_and_another_sets_packed_row_is_skipped(
    read_model: Any,
) -> None:
    model, pool = read_model
    older, newer = vector(DAY, 1.0), vector(DAY + dt.timedelta(days=2), 2.0)
    # As migration 0009 found it: JSON values, nothing packed.
    await pool.execute(
        "INSERT INTO gateway.feature_vectors (player_id, as_of, feature_set_version, features, "
        "event_id) VALUES (2544, $1, $2, $3::jsonb, 'old')",
        older.as_of,
        FEATURE_SET_VERSION,
        features_json(older.features),
    )
    # A later vector packed in another feature set's order: not readable here.
    await pool.execute(
        "INSERT INTO gateway.feature_vectors (player_id, as_of, feature_set_version, vector, "
        "event_id) VALUES (2544, $1, 'fs-0', $2, 'other')",
        newer.as_of,
        pack(newer.features),
    )
    found = await model.vectors_for([(2544, None), (2544, DAY)])
    assert {k: (v.as_of, v.event_id) for k, v in found.items()} == {
        (2544, None): (DAY, "old"),
        (2544, DAY): (DAY, "old"),
    }
    assert found[(2544, None)].values() == older.features

    # Once the features service republishes it in this code's feature set, it is used.
    await model.store_vectors([newer])
    found = await model.vectors_for([(2544, None)])
    assert found[(2544, None)].as_of == newer.as_of
    assert found[(2544, None)].values() == newer.features
