"""Training examples against real PostgreSQL: stored packed (migration 0006) and read back to
the bit by every reader (labelled examples, dataset rows, the drift sample); a row stored as
JSON before that migration still reads; packed rows of another feature set are refused with a
reason, not read in the wrong order."""

import datetime as dt
from typing import Any

import pytest

from statmuse_shared.contract import ids
from statmuse_shared.contract.messages import FeaturesComputed, GameRef, StatLine
from statmuse_shared.contract.stats import Stat
from statmuse_shared.features import FEATURE_SET_VERSION, feature_names, features_json, pack
from statmuse_shared.platform.db import Database, create_pool
from statmuse_shared.platform.migrations import migrate
from statmuse_trainer.adapters.examples import PostgresExamples

pytestmark = pytest.mark.integration
NAMES = feature_names()
DAY = dt.date(2024, 3, 12)


def example(as_of: dt.date, first: float) -> FeaturesComputed:
    features = {n: (i / 7 if i % 4 else None) for i, n in enumerate(NAMES)}
    features[NAMES[1]] = first
    return FeaturesComputed(
        event_id=ids.event_id("t", 2544, as_of),
        player_id=2544,
        player_name="LeBron James",
        team="LAL",
        season="2023-24",
        as_of=as_of,
        kind="game",
        game=GameRef(game_date=as_of, season_type="Regular Season", opponent="DEN", is_home=True),
        feature_set_version=FEATURE_SET_VERSION,
        features=features,
        outcome=StatLine(game_date=as_of, minutes=35.0, points=30, rebounds=8, assists=9),
    )


@pytest.fixture
async def examples(database_url: str) -> Any:
    await migrate(database_url, schemas=["registry"])
    pool = await create_pool(database_url)
    await pool.execute("TRUNCATE registry.training_examples")
    yield PostgresExamples(Database.of(pool)), pool
    await pool.close()


async def test_examples_are_stored_packed_and_every_reader_gets_them_back(examples: Any) -> None:
    repo, pool = examples
    packed, legacy = example(DAY, 1 / 3), example(DAY + dt.timedelta(days=2), 2.0)
    assert await repo.upsert([packed]) == 1
    row = await pool.fetchrow("SELECT vector, features FROM registry.training_examples")
    assert (row["vector"], row["features"]) == (pack(packed.features), None)
    # As migration 0006 found a row: JSON values, nothing packed.
    await pool.execute(
        "INSERT INTO registry.training_examples (player_id, as_of, feature_set_version, season, "
        "features, last_game, outcome, game_date, event_id) "
        "VALUES (2544, $1, $2, '2023-24', $3::jsonb, NULL, $4::jsonb, $1, 'old')",
        legacy.as_of,
        FEATURE_SET_VERSION,
        features_json(legacy.features),
        legacy.outcome.model_dump_json() if legacy.outcome else None,
    )

    want = [packed.features, legacy.features]
    labelled = await repo.labelled(
        stat=Stat.POINTS, feature_set_version=FEATURE_SET_VERSION, seasons=["2023-24"]
    )
    assert sorted((e.features[NAMES[1]], e.label) for e in labelled) == [(1 / 3, 30), (2.0, 30)]
    rows = await repo.dataset_rows(feature_set_version=FEATURE_SET_VERSION, seasons=["2023-24"])
    assert [r.features for r in rows] == want
    sample = await repo.feature_sample(
        feature_set_version=FEATURE_SET_VERSION, first=None, last=None, limit=10
    )
    assert sorted(sample, key=lambda f: f[NAMES[1]]) == want


async def test_packed_examples_of_another_feature_set_are_refused(examples: Any) -> None:
    repo, pool = examples
    await pool.execute(
        "INSERT INTO registry.training_examples (player_id, as_of, feature_set_version, season, "
        "vector, last_game, outcome, game_date, event_id) "
        "VALUES (2544, $1, 'fs-0', '2023-24', $2, NULL, '{\"points\": 1}', $1, 'other')",
        DAY,
        pack(example(DAY, 1.0).features),
    )
    with pytest.raises(ValueError, match="fs-0 are packed in its order"):
        await repo.dataset_rows(feature_set_version="fs-0", seasons=["2023-24"])
