"""Monitoring's pure logic with hand-computed values: PSI, KS, ECE, Brier, ROI, settling
predictions against games, the negative-ROI streak and the drift rule."""

import datetime as dt
import math

import numpy as np
import pytest

from statmuse_shared.contract.stats import Stat
from statmuse_trainer.monitoring import drift
from statmuse_trainer.monitoring.performance import (
    Evaluated,
    LineQuote,
    PlayedGame,
    StoredPrediction,
    brier,
    day_metrics,
    ece,
    monitored_line,
    negative_roi_streak,
    settle,
    stat_value,
)

D = dt.date(2024, 3, 10)
UTC = dt.UTC


# --- PSI and KS ----------------------------------------------------------------------------


def test_psi_of_shares_by_hand():
    # (0.25 - 0.5) ln(0.25 / 0.5) + (0.75 - 0.5) ln(0.75 / 0.5) = 0.25 ln 2 + 0.25 ln 1.5
    got = drift.psi_of_shares(np.array([0.5, 0.5]), np.array([0.25, 0.75]))
    assert got == pytest.approx(0.25 * math.log(2) + 0.25 * math.log(1.5))
    assert got == pytest.approx(0.27465, abs=1e-5)


def test_psi_of_shares_treats_an_empty_bin_as_epsilon():
    got = drift.psi_of_shares(np.array([1.0, 0.0]), np.array([0.5, 0.5]))
    by_hand = (0.5 - 1) * math.log(0.5 / 1) + (0.5 - 1e-4) * math.log(0.5 / 1e-4)
    assert got == pytest.approx(by_hand)


def test_quantile_edges_and_bins_with_a_missing_bin():
    reference = np.arange(1.0, 11.0)  # 1..10: the median is 5.5
    edges = drift.quantile_edges(reference, bins=2)
    assert edges.tolist() == [5.5]
    # 1 -> below, 6 and 5.5 (on the edge) -> above, NaN -> the missing bin
    shares = drift.bin_shares(np.array([1.0, 6.0, math.nan, 5.5]), edges)
    assert shares.tolist() == [0.25, 0.5, 0.25]


def test_quantile_edges_merge_ties_of_a_constant_feature():
    assert drift.quantile_edges(np.full(50, 10.0)).tolist() == [10.0]


def test_psi_counts_a_feature_going_missing():
    reference = np.arange(1.0, 11.0)
    recent = np.array([1.0, 2.0, 3.0, 4.0, 5.0] + [math.nan] * 5)
    # Reference: 5 below 5.5, 5 above, none missing; recent: 5 below, 0 above, 5 missing.
    ref, cur = np.array([0.5, 0.5, 0.0]), np.array([0.5, 0.0, 0.5])
    assert drift.psi(reference, recent, bins=2) == pytest.approx(drift.psi_of_shares(ref, cur))
    assert drift.psi(reference, reference, bins=2) == pytest.approx(0.0)


def test_ks_statistic_by_hand_and_its_sample_floor():
    a, b = np.array([1.0, 2.0, 3.0, 4.0]), np.array([3.0, 4.0, 5.0, 6.0, math.nan])
    statistic, pvalue = drift.ks(a, b, min_samples=4) or (None, None)
    assert statistic == pytest.approx(0.5)  # CDF gap at 2: 0.5 vs 0
    assert pvalue is not None
    assert 0 < pvalue < 1
    assert drift.ks(a, b, min_samples=5) is None  # NaN does not count as a sample


def test_a_significant_but_tiny_shift_is_not_drift():
    rng = np.random.default_rng(1)
    reference, recent = rng.normal(0, 1, 50_000), rng.normal(0.05, 1, 50_000)
    got = drift.compare("points_sma_10", reference, recent, rule=drift.DriftRule(), tests=200)
    assert got.ks_pvalue is not None
    assert got.ks_pvalue < 0.01 / 200  # "significant" at this sample size ...
    assert got.ks_statistic is not None
    assert got.ks_statistic < 0.1  # ... but a small effect
    assert got.psi is not None
    assert got.psi < 0.2
    assert not got.drifted


def test_a_real_shift_is_drift_and_calendar_counts_are_not_counted():
    rng = np.random.default_rng(2)
    reference, recent = rng.normal(20, 5, 2000), rng.normal(26, 5, 500)
    got = drift.compare("points_sma_10", reference, recent, rule=drift.DriftRule(), tests=200)
    assert got.drifted
    assert got.counted
    for name in ("points_n_10", "points_career_n", "season_games", "is_playoffs"):
        assert not drift.compare(name, reference, recent, rule=drift.DriftRule(), tests=1).counted


def test_too_few_rows_decide_nothing():
    rule = drift.DriftRule(min_samples=200)
    got = drift.compare("x", np.zeros(100), np.ones(100), rule=rule, tests=1)
    assert (got.psi, got.ks_statistic, got.drifted) == (None, None, False)


def _series(name: str, drifted: bool, counted: bool = True) -> drift.SeriesDrift:
    return drift.SeriesDrift(
        name, 0.5 if drifted else 0.01, None, None, 1000, 300, 0, 0, drifted, counted
    )


def test_decide_needs_min_features_of_the_stats_own_and_counts_predictions_alone():
    rule = drift.DriftRule(min_features=3)
    points = [_series(n, True) for n in ("points_sma_10", "points_ema")]
    others = [_series(n, True) for n in ("rebounds_sma_10", "rebounds_ema", "assists_ema")]
    calendar = [_series("points_n_10", True, counted=False)]
    # Two of its own plus a calendar count: not enough; rebounds' features are not points'.
    assert not drift.decide(Stat.POINTS, points + others + calendar, [], rule=rule).fire
    three = [*points, _series("minutes_sma_10", True)]
    decision = drift.decide(Stat.POINTS, three + others, [], rule=rule)
    assert decision.fire
    assert set(decision.drifted_features) == {"points_sma_10", "points_ema", "minutes_sma_10"}
    # pra's model also reads points features; assists' does not.
    assert drift.decide(Stat.PRA, three, [], rule=rule).fire
    assert not drift.decide(Stat.ASSISTS, three, [], rule=rule).fire
    moved = drift.decide(Stat.THREES, [], [_series("predicted_value", True)], rule=rule)
    assert moved.fire
    assert moved.drifted_predictions == ("predicted_value",)


# --- calibration and betting ---------------------------------------------------------------


def test_brier_and_ece_by_hand():
    pairs = [(0.15, 1.0), (0.15, 0.0), (0.85, 1.0), (0.85, 1.0)]
    # Brier: (0.85² + 0.15² + 0.15² + 0.15²) / 4
    assert brier(pairs) == pytest.approx((0.7225 + 3 * 0.0225) / 4)
    # ECE: bin 1 holds 2 at mean 0.15 with frequency 0.5 (gap 0.35); bin 8 holds 2 at 0.85
    # with frequency 1 (gap 0.15): (2 * 0.35 + 2 * 0.15) / 4
    assert ece(pairs) == pytest.approx(0.25)
    assert ece([(1.0, 1.0)]) == pytest.approx(0.0)  # p = 1 lands in the top bin
    assert brier([]) is None
    assert ece([]) is None


def _evaluated(rec: str, actual: float, line: float = 20.5, day: dt.date = D) -> Evaluated:
    return Evaluated(Stat.POINTS, 1, day, line, 0.6, rec, actual, "v1")  # type: ignore[arg-type]


def test_results_and_roi_of_flat_bets_at_minus_110():
    rows = [
        _evaluated("OVER", 25),  # win: +100/110
        _evaluated("UNDER", 15),  # win
        _evaluated("OVER", 10),  # loss: -1
        _evaluated("OVER", 20, line=20.0),  # push: staked and returned
        _evaluated("PASS", 30),  # no bet
    ]
    assert [r.result for r in rows] == ["win", "win", "loss", "push", None]
    m = day_metrics(Stat.POINTS, D, rows)
    assert (m.predictions, m.bets, m.wins, m.losses, m.pushes) == (5, 4, 2, 1, 1)
    assert m.hit_rate == pytest.approx(2 / 3)  # pushes and PASS excluded
    assert m.profit == pytest.approx(2 * 100 / 110 - 1)
    assert m.roi == pytest.approx((2 * 100 / 110 - 1) / 4)
    # Brier/ECE over the four that were decided (the push is excluded), P(over) 0.6 each,
    # outcomes over, under, under, over: 2 x 0.16 + 2 x 0.36
    assert m.brier == pytest.approx((2 * 0.16 + 2 * 0.36) / 4)
    assert m.ece == pytest.approx(0.1)


def test_trailing_seven_days_pool_the_bets():
    rows = [
        _evaluated("OVER", 25, day=D),
        _evaluated("OVER", 10, day=D - dt.timedelta(days=6)),
        _evaluated("OVER", 10, day=D - dt.timedelta(days=7)),
    ]
    m = day_metrics(Stat.POINTS, D, rows)
    assert (m.bets, m.bets_7d, m.hit_rate_7d) == (1, 2, 0.5)
    empty = day_metrics(Stat.REBOUNDS, D, rows)
    assert (empty.predictions, empty.roi, empty.hit_rate, empty.ece_7d) == (0, None, None, None)


def test_negative_roi_streak_skips_days_without_bets():
    days = [
        (D - dt.timedelta(days=k), bets, roi)
        for k, bets, roi in [(0, 5, -0.1), (1, 0, None), (2, 3, -0.2), (3, 4, 0.0), (4, 2, -0.3)]
    ]
    assert negative_roi_streak(days) == 2  # D and D-2; D-1 had no bet; D-3 broke even
    assert negative_roi_streak(list(reversed(days))) == 2  # any order
    assert negative_roi_streak([(D, 2, 0.1)]) == 0
    assert negative_roi_streak([]) == 0


# --- settling predictions against games ----------------------------------------------------


def _prediction(
    as_of: dt.date,
    made: dt.datetime,
    mean: float = 21.2,
    over: float = 0.62,
    version: str = "v1",
    player: int = 7,
) -> StoredPrediction:
    lines = (
        LineQuote(19.5, 0.75, 0.25, 0.0),
        LineQuote(21.5, over, 1 - over, 0.0),
        LineQuote(22.5, 0.4, 0.6, 0.0),
    )
    return StoredPrediction(
        f"{player}-{as_of}-{made}", player, Stat.POINTS, as_of, mean, lines, version, made
    )


def _game(day: dt.date, points: int, minutes: float = 30.0, player: int = 7) -> PlayedGame:
    return PlayedGame(
        player, day, minutes, {"points": points, "rebounds": 5, "assists": 3, "threes": None}
    )


def test_monitored_line_is_the_nearest_to_the_mean():
    p = _prediction(D, dt.datetime(2024, 3, 10, 12, tzinfo=UTC))
    quote = monitored_line(p)
    assert quote is not None
    assert quote.line == 21.5


def test_settle_matches_the_next_game_and_keeps_the_latest_pregame_prediction():
    early = _prediction(D, dt.datetime(2024, 3, 10, 1, tzinfo=UTC), over=0.50)
    late = _prediction(D, dt.datetime(2024, 3, 11, 1, tzinfo=UTC), over=0.62)  # 21:00 ET 3/10
    after = _prediction(D, dt.datetime(2024, 3, 12, 16, tzinfo=UTC), over=0.90)  # after the game
    games = [_game(D - dt.timedelta(days=2), 40), _game(D + dt.timedelta(days=1), 25)]
    [e] = settle([early, late, after], games)
    assert (e.game_date, e.line, e.actual) == (D + dt.timedelta(days=1), 21.5, 25)
    assert e.over_probability == pytest.approx(0.62)
    # At -110: EV(over) = 0.62 * 100/110 - 0.38 = 0.1836 >= 2% -> OVER, and 25 > 21.5 wins.
    assert (e.recommendation, e.result) == ("OVER", "win")


def test_settle_drops_voids_far_games_and_unrecorded_stats():
    made = dt.datetime(2024, 3, 10, 12, tzinfo=UTC)
    assert settle([_prediction(D, made)], [_game(D, 0, minutes=0.0)]) == []  # did not play
    assert settle([_prediction(D, made)], [_game(D + dt.timedelta(days=11), 20)]) == []
    threes = StoredPrediction(
        "t", 7, Stat.THREES, D, 2.1, (LineQuote(1.5, 0.6, 0.4, 0.0),), "v1", made
    )
    assert settle([threes], [_game(D, 20)]) == []  # threes not recorded that season


def test_settle_pass_is_not_a_bet():
    made = dt.datetime(2024, 3, 10, 12, tzinfo=UTC)
    [e] = settle([_prediction(D, made, over=0.52)], [_game(D, 10)])
    assert e.recommendation == "PASS"  # EV(under) = 0.48 * 0.909 - 0.52 < 0.02
    assert e.result is None
    assert e.profit == 0.0


def test_a_settled_sum_of_stats_adds_its_parts_and_needs_all_of_them() -> None:
    box: dict[str, float | None] = {
        "points": 20.0,
        "rebounds": 8.0,
        "assists": 6.0,
        "threes": None,
        "steals": 2.0,
        "blocks": 0.0,
        "turnovers": 3.0,
    }
    assert stat_value(Stat.PRA, box) == 34.0
    assert stat_value(Stat.PR, box) == 28.0
    assert stat_value(Stat.PA, box) == 26.0
    assert stat_value(Stat.RA, box) == 14.0
    assert stat_value(Stat.STOCKS, box) == 2.0  # a zero part counts
    assert stat_value(Stat.TURNOVERS, box) == 3.0
    assert stat_value(Stat.THREES, box) is None
    assert stat_value(Stat.STOCKS, {**box, "blocks": None}) is None
