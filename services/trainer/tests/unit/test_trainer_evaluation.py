"""Evaluation against baselines and the books, on real 2023-24 games and real lines."""

import csv
import gzip
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from statmuse_shared.features import League, walk
from statmuse_shared.features.logs import player_game, team_games
from statmuse_trainer.evaluation.tables import baseline_table, books_scores, priced_lines
from statmuse_trainer.lines import match_players, read_lines
from statmuse_trainer.scoring import bootstrap
from statmuse_trainer.scoring import pair_brier as brier
from statmuse_trainer.scoring import pair_log_loss as log_loss
from statmuse_trainer.training.dataset import Row, Split, frame

DATA = Path(__file__).resolve().parents[4] / "data" / "nba"


def test_scores_hand_computed():
    pairs = np.array([[0.8, 1.0], [0.3, 0.0], [0.5, 1.0]])
    assert brier(pairs) == pytest.approx((0.04 + 0.09 + 0.25) / 3)
    assert log_loss(pairs) == pytest.approx(-(np.log(0.8) + np.log(0.7) + np.log(0.5)) / 3)
    est = bootstrap(np.array([1.0, 2.0, 3.0, 4.0]), lambda v: float(np.mean(v)), rounds=500)
    assert est.value == 2.5
    assert 1.0 <= est.low < 2.5 < est.high <= 4.0


def real_test_frame(players: set[str]):
    league, games = League(), defaultdict(list)
    with gzip.open(DATA / "team_game_logs" / "2023-24.csv.gz", "rt", newline="") as f:
        for game in team_games(csv.DictReader(f), "2023-24"):
            league.add(game)
    names = {}
    with gzip.open(DATA / "player_game_logs" / "2023-24.csv.gz", "rt", newline="") as f:
        for r in csv.DictReader(f):
            if r["PLAYER_NAME"] not in players:
                continue
            names[r["PLAYER_NAME"]] = int(r["PLAYER_ID"])
            games[int(r["PLAYER_ID"])].append(player_game(r, "2023-24"))
    rows = []
    for pid, history in games.items():
        history.sort(key=lambda g: g.game_date)
        for g, feats in walk(history, league=league)[0]:
            rows.append(
                Row(
                    pid,
                    g.season,
                    g.game_date,
                    g.game_date,
                    feats,
                    {
                        "points": g.points,
                        "rebounds": g.rebounds,
                        "assists": g.assists,
                        "threes": g.threes,
                        "minutes": g.minutes,
                    },
                )
            )
    split = Split(("2021-22",), ("2022-23",), ("2023-24",))
    return frame(rows, split), names


def test_books_beat_a_coin_and_baselines_are_scored_on_real_games():
    players = {
        "LeBron James",
        "Nikola Jokić",
        "Jalen Brunson",
        "Stephen Curry",
        "Luka Dončić",
        "Jayson Tatum",
        "Anthony Edwards",
        "Devin Booker",
        "Domantas Sabonis",
        "Tyrese Haliburton",
        "De'Aaron Fox",
        "Anthony Davis",
    }
    test, names = real_test_frame(players)
    lines, _ = match_players(read_lines(sorted((DATA / "prop_lines").glob("*.csv.gz"))), names)
    priced = priced_lines(test, lines, "points")
    assert len(priced) > 500
    scores = books_scores(priced, rounds=300)
    # The books know something: their de-vigged P(over) beats always saying 50% (0.25).
    assert scores["brier"].high < 0.25
    assert scores["log_loss"].value < np.log(2)

    table = baseline_table(test, "points", rounds=200)
    assert list(table["predictor"]) == ["season_average", "last_10", "ewma"]
    for est in table["mae"]:
        assert 3.0 < est.value < 9.0, "points MAE of a sensible baseline for stars"
        assert est.low <= est.value <= est.high
