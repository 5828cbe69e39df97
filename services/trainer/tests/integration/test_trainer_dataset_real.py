"""The training dataset from real vectors in real PostgreSQL: split by season, no test-period
game among the training rows, every row a game vector whose features predate its game, labels
that are the box score, and a version that is the content."""

import csv
import gzip
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest

from statmuse_shared.contract import ids
from statmuse_shared.contract.messages import FeaturesComputed, GameRef, StatLine
from statmuse_shared.features import (
    FEATURE_SET_VERSION,
    League,
    PlayerGame,
    walk,
)
from statmuse_shared.features.logs import player_game, team_games
from statmuse_shared.platform.db import Database, create_pool
from statmuse_shared.platform.migrations import migrate
from statmuse_trainer.adapters.examples import PostgresExamples
from statmuse_trainer.training.dataset import Split, build_dataset

pytestmark = pytest.mark.integration
DATA = Path(__file__).resolve().parents[4] / "data" / "nba"
SEASONS = ("2021-22", "2022-23", "2023-24")
PLAYERS = {
    "2544",
    "203999",
    "1628973",
    "201939",
    "1629029",
}  # LeBron, Jokić, Brunson, Curry, Dončić


def load() -> tuple[League, dict[int, list[PlayerGame]], dict[tuple[int, str], int]]:
    league, games, points = League(), defaultdict(list), {}
    for season in SEASONS:
        with gzip.open(DATA / "team_game_logs" / f"{season}.csv.gz", "rt", newline="") as f:
            for game in team_games(csv.DictReader(f), season):
                league.add(game)
        with gzip.open(DATA / "player_game_logs" / f"{season}.csv.gz", "rt", newline="") as f:
            for r in csv.DictReader(f):
                if r["PLAYER_ID"] not in PLAYERS:
                    continue
                games[int(r["PLAYER_ID"])].append(player_game(r, season))
                points[(int(r["PLAYER_ID"]), r["GAME_DATE"])] = int(r["PTS"])
    return league, games, points


def vectors(league: League, games: dict[int, list[PlayerGame]]) -> list[FeaturesComputed]:
    out = []
    for player_id, history in games.items():
        history.sort(key=lambda g: g.game_date)
        for game, features in walk(history, league=league)[0]:
            out.append(
                FeaturesComputed(
                    event_id=ids.event_id("t", player_id, game.game_date),
                    player_id=player_id,
                    player_name="x",
                    team=game.team,
                    season=game.season,
                    as_of=game.game_date,
                    kind="game",
                    feature_set_version=FEATURE_SET_VERSION,
                    features=features,
                    game=GameRef(
                        game_date=game.game_date,
                        season_type=game.season_type,
                        opponent=game.opponent,
                        is_home=game.is_home,
                    ),
                    outcome=StatLine(
                        game_date=game.game_date,
                        minutes=game.minutes,
                        points=game.points,
                        rebounds=game.rebounds,
                        assists=game.assists,
                        threes=game.threes,
                    ),
                )
            )
    return out


async def test_dataset_from_real_vectors(database_url, tmp_path):
    await migrate(database_url, schemas=["registry"])
    league, games, points = load()
    pool = await create_pool(database_url)
    examples = PostgresExamples(Database.of(pool))
    try:
        stored = await examples.upsert(vectors(league, games))
        assert stored > 1000

        split = Split(("2021-22",), ("2022-23",), ("2023-24",))
        built = await build_dataset(examples, split, tmp_path)
        again = await build_dataset(examples, split, tmp_path / "again")
    finally:
        await pool.close()
    version, paths, counts = built.version, built.paths, built.counts
    train, test = pd.read_parquet(paths["train"]), pd.read_parquet(paths["test"])
    assert sum(counts.values()) == stored

    # No test-period game is among the training rows, by season and by date.
    assert set(train["season"]) == {"2021-22"}
    assert set(test["season"]) == {"2023-24"}
    assert train["game_date"].max() < test["game_date"].min()
    assert not set(zip(train["player_id"], train["game_date"], strict=True)) & set(
        zip(test["player_id"], test["game_date"], strict=True)
    )
    # Every row is a game vector: computed as of its own game's day, from games before it.
    for part in (train, test):
        assert (part["as_of"] == part["game_date"]).all()
    # The label is the box score (straight from the file), and a feature is not the label.
    for r in test.sample(20, random_state=1).itertuples():
        assert r.label_points == points[(r.player_id, r.game_date.date().isoformat())]
    assert not (test["f_points_sma_3"] == test["label_points"]).all()

    # Rebuilt from the same rows: same version.
    assert again.version == version
