"""Each player's latest vector against real PostgreSQL: kept packed (migration 0004) and read
back to the bit; a row kept as JSON before that migration still reads; a packed row of
another feature set is left out (its order is not this code's)."""

import datetime as dt
from typing import Any

import pytest

from statmuse_predictor.adapters.postgres import PostgresPredictions
from statmuse_shared.contract import ids
from statmuse_shared.contract.messages import FeaturesComputed
from statmuse_shared.features import FEATURE_SET_VERSION, feature_names, features_json, pack
from statmuse_shared.platform.db import Database, create_pool
from statmuse_shared.platform.migrations import migrate

pytestmark = pytest.mark.integration
NAMES = feature_names()
DAY = dt.date(2024, 3, 12)


def vector(player_id: int, first: float) -> FeaturesComputed:
    features = {n: (i / 7 if i % 4 else None) for i, n in enumerate(NAMES)}
    features[NAMES[1]] = first
    return FeaturesComputed(
        event_id=ids.event_id("t", player_id, DAY),
        player_id=player_id,
        player_name=f"Player {player_id}",
        team="LAL",
        season="2023-24",
        as_of=DAY,
        feature_set_version=FEATURE_SET_VERSION,
        features=features,
    )


@pytest.fixture
async def repo(database_url: str) -> Any:
    await migrate(database_url, schemas=["predictions"])
    pool = await create_pool(database_url)
    await pool.execute("TRUNCATE predictions.latest_features")
    yield PostgresPredictions(Database.of(pool)), pool
    await pool.close()


async def test_the_latest_vectors_are_kept_packed_and_read_back(repo: Any) -> None:
    predictions, pool = repo
    kept = vector(1, 1 / 3)
    await predictions.keep_latest([kept])
    row = await pool.fetchrow("SELECT vector, features FROM predictions.latest_features")
    assert (row["vector"], row["features"]) == (pack(kept.features), None)
    # As migration 0004 found a row: JSON values, nothing packed.
    old = vector(2, 2.0)
    await pool.execute(
        "INSERT INTO predictions.latest_features (player_id, player_name, as_of, "
        "feature_set_version, features) VALUES (2, 'Player 2', $1, $2, $3::jsonb)",
        DAY,
        FEATURE_SET_VERSION,
        features_json(old.features),
    )
    # Packed in another feature set's order: left out.
    await pool.execute(
        "INSERT INTO predictions.latest_features (player_id, player_name, as_of, "
        "feature_set_version, vector) VALUES (3, 'Player 3', $1, 'fs-0', $2)",
        DAY,
        pack(vector(3, 3.0).features),
    )
    latest = {row.player_id: row.features for row in await predictions.latest()}
    assert latest == {1: kept.features, 2: old.features}
