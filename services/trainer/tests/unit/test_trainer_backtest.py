"""The backtest: a hand-computed ledger, walk-forward staking, the guard rails, and the CLI on
real box scores with the shipped models.

One module, over 400 lines: the backtest's ledger, engine and CLI share their fixtures.
"""

import csv
import datetime as dt
import gzip
import json
import shutil
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from statmuse_shared.contract.books import canonical_book
from statmuse_shared.features import walk
from statmuse_shared.features.logs import player_game
from statmuse_shared.models.count import CountModel
from statmuse_shared.models.shopping import american_from_decimal
from statmuse_trainer.backtest.engine import BacktestEngine
from statmuse_trainer.backtest.ledger import Bet, bets_frame, daily, summarise
from statmuse_trainer.backtest.market import BacktestError, ModelSet, Quote
from statmuse_trainer.backtest.strategies import STRATEGIES, configured
from statmuse_trainer.cli import app
from statmuse_trainer.lines import PropLine

REPO = Path(__file__).resolve().parents[4]
DATA = REPO / "data" / "nba"
MODELS = REPO / "models" / "holdout-2023-24"  # never saw 2023-24
D1, D2, D3 = dt.date(2024, 3, 2), dt.date(2024, 3, 3), dt.date(2024, 3, 4)


def bet(day: dt.date, side: str, line: float, american: int, stake: float, actual: float) -> Bet:
    return Bet(
        day=day,
        stat="points",
        player_id=1,
        player_name="A",
        side=side,  # type: ignore[arg-type]
        line=line,
        american=american,
        book="book",
        stake=stake,
        probability=0.6,
        expected_value=0.05,
        actual=actual,
        fair_probability=0.5,
    )


# --- the ledger ---------------------------------------------------------------------------


def test_a_hand_computed_ledger_is_reproduced_exactly():
    """Three bets from a bankroll of 100:
    day 1: 10 on OVER 20.5 at -110, result 25: won 10 × 100/110 = 100/11 -> 1200/11;
    day 2: 10 on UNDER 5.5 at +150, result 7: lost 10 -> 1090/11;
    day 3: 5 on OVER 3.0 at -120, result 3: push, stake back -> 1090/11.
    Staked 25, won 100/11 - 10 = -10/11: ROI -10/275 = -2/55. Peak 1200/11, trough 1090/11:
    drawdown (110/11) / (1200/11) = 11/120. Decided 2, won 1."""
    bets = [
        bet(D1, "OVER", 20.5, -110, 10, 25),
        bet(D2, "UNDER", 5.5, 150, 10, 7),
        bet(D3, "OVER", 3.0, -120, 5, 3),
    ]
    assert [b.outcome for b in bets] == ["win", "loss", "push"]
    s = summarise(daily(bets_frame(bets), [D1, D2, D3], 100.0), 100.0, rounds=200)
    assert s["final_bankroll"].value == pytest.approx(float(Fraction(1090, 11)), abs=1e-12)
    assert s["profit"].value == pytest.approx(float(Fraction(-10, 11)), abs=1e-12)
    assert s["roi"].value == pytest.approx(float(Fraction(-2, 55)), abs=1e-12)
    assert s["max_drawdown"].value == pytest.approx(float(Fraction(11, 120)), abs=1e-12)
    assert s["win_rate"].value == 0.5
    assert (s["bets"], s["pushes"], s["wins"], s["losses"], s["staked"]) == (3, 1, 1, 1, 25.0)
    decimals = [Fraction(21, 11), Fraction(5, 2), Fraction(11, 6)]
    assert s["average_odds"].value == pytest.approx(float(sum(decimals) / 3), abs=1e-12)
    # CLV at a fair 0.5: 0.5 × decimal - 1, averaged over the three.
    assert s["clv"].value == pytest.approx(float(sum(d / 2 - 1 for d in decimals) / 3))
    # Daily returns 1/11, -1/12 (10 of 1200/11), 0: Sharpe is their mean over their sd.
    r = np.array([1 / 11, -10 / (1200 / 11), 0.0])
    assert s["daily_sharpe"].value == pytest.approx(r.mean() / r.std(ddof=1))
    low, high = s["roi"].low, s["roi"].high
    assert low <= s["roi"].value <= high
    assert low < high


def test_a_day_without_bets_keeps_the_bankroll_and_counts_as_a_zero_return():
    frame = daily(bets_frame([bet(D1, "OVER", 20.5, -110, 10, 25)]), [D1, D2], 100.0)
    assert list(frame["end"]) == pytest.approx([100 + 100 / 11, 100 + 100 / 11])
    assert list(frame["return"]) == pytest.approx([1 / 11, 0.0])


def test_american_odds_round_trip_through_decimal():
    assert [american_from_decimal(d) for d in (1.5, 1.909090909, 2.0, 2.5)] == [
        -200,
        -110,
        100,
        150,
    ]


def test_the_two_files_spellings_of_a_book_are_one_book():
    assert canonical_book("BetMGM") == canonical_book("betmgm") == "betmgm"
    assert canonical_book("Caesars") == "williamhill_us"
    assert canonical_book("PointsBet (US)") == "pointsbetus"


# --- strategies and the walk ----------------------------------------------------------------


def quote(
    day: dt.date,
    *,
    over: float,
    under: float,
    line: float = 20.5,
    actual: float = 25,
    season: float | None = None,
    consensus: tuple[int, int] = (-110, -110),
    best: tuple[int, int] = (-105, -105),
) -> Quote:
    return Quote(
        day=day,
        stat="points",
        player_id=1,
        player_name="A",
        line=line,
        books=3,
        consensus_over=consensus[0],
        consensus_under=consensus[1],
        best_over=(best[0], "bookA"),
        best_under=(best[1], "bookB"),
        fair_over=0.5,
        season_average=season,
        actual=actual,
        mean=line,
        over=over,
        under=under,
        push=1 - over - under,
        model="m",
    )


def test_selection_rules():
    s = STRATEGIES
    rich_over = quote(D1, over=0.75, under=0.25).choice("consensus")
    thin_over = quote(D1, over=0.54, under=0.46).choice("consensus")
    no_edge = quote(D1, over=0.51, under=0.49).choice("consensus")
    assert s["ev"].select(rich_over).side == "OVER"  # type: ignore[union-attr]
    assert s["ev"].select(no_edge) is None  # 0.51 at -110 loses money
    assert s["confidence"].select(thin_over) is None
    assert s["ev"].select(thin_over) is not None
    assert s["high_confidence"].select(rich_over) is not None
    assert s["flat"].select(no_edge).side == "OVER"  # type: ignore[union-attr]
    below = quote(D1, over=0.3, under=0.7, season=22.0).choice("consensus")
    assert s["underdog"].select(below).side == "OVER"  # type: ignore[union-attr]
    assert s["underdog"].select(rich_over) is None  # no season average: no underdog call
    best = quote(D1, over=0.75, under=0.25).choice("best")
    assert (best.over.american, best.over.book) == (-105, "bookA")


def engine(**kw) -> BacktestEngine:  # type: ignore[no-untyped-def]
    empty = pd.DataFrame(columns=["player_id", "player_name", "game_date", "as_of"])
    old = ModelSet("old", {}, {}, dt.date(2017, 10, 1), dt.date(2023, 6, 12))
    args = {"features": empty, "lines": [], "start": D1, "end": D3, "model_sets": [old]}
    return BacktestEngine(**(args | kw))


def test_kelly_stakes_each_morning_from_that_mornings_bankroll():
    (kelly,) = configured(["kelly"])
    win_day1 = quote(D1, over=0.7, under=0.3, actual=25)
    lose_day2 = quote(D2, over=0.7, under=0.3, actual=10)
    bets = engine(bankroll=1000.0).simulate([win_day1, lose_day2], kelly, "consensus")
    assert [b.outcome for b in bets] == ["win", "loss"]
    # Kelly at -110 with P(win) 0.7: (b·0.7 - 0.3)/b, b = 10/11 -> 0.37; × 0.25 = 0.0925,
    # capped at 2%: 20 on day 1, then 2% of 1000 + 20 × 10/11 on day 2.
    assert bets[0].stake == pytest.approx(20.0)
    assert bets[1].stake == pytest.approx(0.02 * (1000 + 20 * 10 / 11))


def test_a_days_stakes_are_scaled_to_the_exposure_limit():
    (flat,) = configured(["flat"], unit=0.2)
    picks = [quote(D1, over=0.7, under=0.3) for _ in range(5)]  # 5 × 20% asked, 50% allowed
    bets = engine(bankroll=100.0, max_exposure=0.5).simulate(picks, flat, "consensus")
    assert sum(b.stake for b in bets) == pytest.approx(50.0)


# --- guard rails ----------------------------------------------------------------------------


def test_a_model_trained_on_the_period_is_refused():
    overlapping = ModelSet("leaky", {}, {}, dt.date(2017, 10, 1), dt.date(2024, 3, 3))
    with pytest.raises(BacktestError, match=r"leaky .* overlaps the backtest period"):
        engine(model_sets=[overlapping])


def line(
    book: str = "fanduel", source: str = "2023-24_mar-may_all_markets.csv.gz", value: float = 20.5
) -> PropLine:
    return PropLine(D1, "A", "points", book, value, -110, -110, source)


@pytest.mark.parametrize(
    ("book", "source"),
    [
        ("statmuse", "books.csv.gz"),
        ("fanduel", "statmuse_reference_lines.csv.gz"),
        ("model", "x.csv.gz"),
    ],
)
def test_lines_naming_this_system_are_refused(book: str, source: str):
    with pytest.raises(BacktestError, match="derived from the model's own predictions"):
        engine(lines=[(1, line(book, source))])


def test_features_made_after_their_game_are_refused():
    late = pd.DataFrame(
        {
            "player_id": [1],
            "player_name": ["A"],
            "game_date": [pd.Timestamp(D1)],
            "as_of": [pd.Timestamp(D2)],
        }
    )
    with pytest.raises(BacktestError, match="made after their game"):
        engine(features=late)


def test_bundles_without_a_training_window_are_refused(tmp_path: Path):
    shutil.copy(MODELS / "points.npz", tmp_path / "points.npz")
    with pytest.raises(BacktestError, match="no training window"):
        ModelSet.load(tmp_path)
    meta = json.loads((MODELS / "points.json").read_text())
    (tmp_path / "points.json").write_text(json.dumps(meta))
    # the training window, or the line weights' window when it ends later
    assert ModelSet.load(tmp_path).last_day == dt.date(2024, 3, 15)
    # ...and the market layer's, which prices the backtest's lines too.
    model = CountModel.from_bytes((tmp_path / "points.npz").read_bytes())
    assert model.header.market_layer is not None
    later = model.header.market_layer.model_copy(update={"last_day": dt.date(2024, 4, 30)})
    (tmp_path / "points.npz").write_bytes(
        CountModel.with_header((tmp_path / "points.npz").read_bytes(), market_layer=later)
    )
    assert ModelSet.load(tmp_path).last_day == dt.date(2024, 4, 30)


# --- on real box scores, with the shipped models ---------------------------------------------

PLAYER = "LeBron James"


@pytest.fixture(scope="module")
def lebron() -> pd.DataFrame:
    """LeBron James's 2023-24 games: each pre-game vector (the shared engine, no opponent
    context) and what he did, shaped like a dataset split."""
    games, pid = [], 0
    with gzip.open(DATA / "player_game_logs" / "2023-24.csv.gz", "rt", newline="") as f:
        for r in csv.DictReader(f):
            if r["PLAYER_NAME"] != PLAYER:
                continue
            pid = int(r["PLAYER_ID"])
            games.append(player_game(r, r["SEASON"]))
    games.sort(key=lambda g: g.game_date)
    rows = []
    for game, features in walk(games, league=None)[0]:
        label = {
            f"label_{s}": game.value(s)
            for s in ("points", "rebounds", "assists", "threes", "pra", "minutes")
        }
        rows.append(
            {
                "player_id": pid,
                "player_name": PLAYER,
                "game_date": pd.Timestamp(game.game_date),
                "as_of": pd.Timestamp(game.game_date),
                "season": "2023-24",
                "split": "test",
                **label,
                **{f"f_{k}": np.nan if v is None else v for k, v in features.items()},
            }
        )
    return pd.DataFrame(rows)


def book_lines(frame: pd.DataFrame, shift: float, *, around_mean: bool = False) -> list:
    """Three books' points lines on each of his 2024 games: the season average plus `shift`
    (or, `around_mean`, the shipped model's own mean rounded to a half point)."""
    march = frame[(frame["game_date"] >= "2024-01-01") & (frame["game_date"] < "2024-04-30")]
    out = []
    model = ModelSet.load(MODELS).models["points"]
    x = march[[f"f_{c}" for c in model.header.features]].to_numpy(np.float64)
    mu, _, _ = model.means(x, list(march["player_id"]))
    for (_, r), m in zip(march.iterrows(), mu, strict=True):
        centre = (
            np.floor(m) + 0.5 if around_mean else np.floor(r["f_points_season_avg"] + shift) + 0.5
        )
        for book, over, under in (
            ("fanduel", -115, -105),
            ("draftkings", -110, -110),
            ("betmgm", -105, -120),
        ):
            out.append(
                (
                    int(r["player_id"]),
                    PropLine(
                        r["game_date"].date(),
                        PLAYER,
                        "points",
                        book,
                        float(centre),
                        over,
                        under,
                        "books.csv.gz",
                    ),
                )
            )
    return out


def test_the_walk_prices_with_the_model_of_each_day(lebron: pd.DataFrame, tmp_path: Path):
    """Two model sets: the newer (trained through 2024-03-31, as far as its metadata says) is
    used only from the day after; the backtest window starts after both. (The shipped set's
    line weights were fitted on lines through 2024-03-15.)"""
    newer = tmp_path / "newer"
    shutil.copytree(MODELS, newer)
    for sidecar in newer.glob("*.json"):
        meta = json.loads(sidecar.read_text())
        meta["training_window"]["last_day"] = "2024-03-31"
        sidecar.write_text(json.dumps(meta))
    lines = book_lines(lebron, 0.0)
    with pytest.raises(BacktestError, match="overlaps"):
        BacktestEngine(
            features=lebron,
            lines=lines,
            start=dt.date(2024, 3, 16),
            end=dt.date(2024, 4, 29),
            model_sets=[ModelSet.load(MODELS), ModelSet.load(newer)],
        )
    e = BacktestEngine(
        features=lebron,
        lines=lines,
        start=dt.date(2024, 4, 1),
        end=dt.date(2024, 4, 29),
        model_sets=[ModelSet.load(MODELS), ModelSet.load(newer)],
    )
    quotes = e.quotes()
    assert quotes
    assert {q.model.split("/")[0] for q in quotes} == {"newer"}
    r = e.run(configured(["ev", "flat"]))
    assert set(r.bets["strategy"]) <= {"ev", "flat"}
    flat = r.bets[(r.bets["strategy"] == "flat") & (r.bets["mode"] == "consensus")]
    assert len(flat) == len(quotes)  # every priced market is bet on by `flat`
    for b in flat.itertuples():
        won = b.actual > b.line if b.side == "OVER" else b.actual < b.line
        assert b.outcome == ("win" if won else "loss")


def without_line_weights(folder: Path) -> Path:
    """The shipped models without their line weights and market layer (fitted on lines
    through 2024-03-15), so that a backtest may start in January."""
    folder.mkdir()
    for bundle in MODELS.glob("*.npz"):
        stripped = CountModel.with_header(bundle.read_bytes(), line_blend=None, market_layer=None)
        (folder / bundle.name).write_bytes(stripped)
        shutil.copy(bundle.with_suffix(".json"), folder / f"{bundle.stem}.json")
    return folder


def test_lines_on_the_models_own_mean_are_refused(lebron: pd.DataFrame, tmp_path: Path):
    lines = book_lines(lebron, 0.0, around_mean=True)
    models = ModelSet.load(without_line_weights(tmp_path / "models"))
    e = BacktestEngine(
        features=lebron,
        lines=lines,
        start=dt.date(2024, 1, 1),
        end=dt.date(2024, 4, 29),
        model_sets=[models],
    )
    assert len(e.quotes()) >= 30
    with pytest.raises(BacktestError, match="look derived from its predictions"):
        e.run(configured(["ev"]))


def write_lines(path: Path, lines: list) -> None:
    with gzip.open(path, "wt", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "game_date",
                "commence_time",
                "event_id",
                "home_team",
                "away_team",
                "player_name",
                "market",
                "bookmaker",
                "line",
                "over_odds",
                "under_odds",
            ]
        )
        for _, x in lines:
            w.writerow(
                [
                    x.game_date.isoformat(),
                    "",
                    "e",
                    "h",
                    "a",
                    x.player_name,
                    x.market,
                    x.bookmaker,
                    x.line,
                    x.over_odds,
                    x.under_odds,
                ]
            )


def test_cli_writes_the_report_and_refuses_an_overlapping_model(
    lebron: pd.DataFrame, tmp_path: Path
):
    dataset = tmp_path / "datasets" / "v1"
    dataset.mkdir(parents=True)
    lebron.to_parquet(dataset / "test.parquet")
    (tmp_path / "lines").mkdir()
    write_lines(tmp_path / "lines" / "books.csv.gz", book_lines(lebron, 1.0))
    base = [
        "backtest",
        "--dataset",
        str(dataset),
        "--lines",
        str(tmp_path / "lines"),
        "--models",
        str(MODELS),
        "--out",
        str(tmp_path / "out"),
        "--rounds",
        "100",
    ]
    runner = CliRunner()
    refused = runner.invoke(app, [*base, "--from", "2023-03-01", "--to", "2023-05-01"])
    assert refused.exit_code == 2
    assert "overlaps the backtest period" in refused.output
    bad = runner.invoke(app, [*base, "--strategy", "martingale"])
    assert bad.exit_code == 2
    assert "unknown strategies" in bad.output
    ok = runner.invoke(
        app,
        [
            *base,
            "--from",
            "2024-03-16",
            "--to",
            "2024-04-29",
            "--write",
            str(tmp_path / "BACKTEST.md"),
        ],
    )
    assert ok.exit_code == 0, ok.output
    folder = tmp_path / "out" / "2024-03-16_2024-04-29"
    summary = json.loads((folder / "summary.json").read_text())
    assert len(summary["runs"]) == 6 * 2
    bets = pd.read_csv(folder / "bets.csv.gz")
    for run in summary["runs"]:
        mine = bets[(bets["strategy"] == run["strategy"]) & (bets["mode"] == run["mode"])]
        assert run["bets"] == len(mine)
        assert run["final_bankroll"]["value"] == pytest.approx(1000 + mine["profit"].sum())
    for png in summary["figures"].values():
        assert (folder / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    doc = (tmp_path / "BACKTEST.md").read_text()
    assert "| high_confidence | best |" in doc
    assert "out/2024-03-16_2024-04-29/equity.png" in doc


def test_the_best_price_is_never_a_stale_books_outlier():
    from statmuse_trainer.backtest.market import best_price

    # +150 (40% implied) against a median near -110 (52%): a stale line, not a price to take.
    posted = [(-110, "fanduel"), (-115, "draftkings"), (-105, "betmgm"), (150, "stalebook")]
    assert best_price(posted) == (-105, "betmgm")
    # Without the outlier the most generous price wins, ties by book name.
    assert best_price([(-105, "b"), (-105, "a"), (-110, "c")]) == (-105, "a")
    assert best_price([(120, "only")]) == (120, "only")
