"""The A/B test's statistics on small synthetic cases: exact figures, the rule at a look, the
stopping rule, symmetries and bad input. The replay on real seasons is
test_trainer_abtest_replay.py."""

import datetime as dt
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statmuse_trainer import scoring
from statmuse_trainer.monitoring.abtest import (
    CHALLENGER_BETTER,
    CHALLENGER_WORSE,
    KEEP_RUNNING,
    NO_DIFFERENCE,
    compare,
    confidence_sequence,
    mixture_rho2,
    read_look,
)

DAY = dt.date(2024, 3, 1)


def days(*counts: int) -> list[dt.date]:
    """`counts[k]` records settled on day k (from DAY)."""
    return [DAY + dt.timedelta(days=k) for k, n in enumerate(counts) for _ in range(n)]


def radius(values: list[float], alpha: float = 0.05, tuned_for: float = 5_000) -> float:
    """The boundary of the module's docstring, by hand, after all of `values`."""
    t = len(values)
    mean = math.fsum(values) / t
    variance = math.fsum((v - mean) ** 2 for v in values) / t
    rho2 = (2 * math.log(1 / alpha) + math.log(1 + 2 * math.log(1 / alpha))) / tuned_for
    return math.sqrt(
        variance * 2 * (t * rho2 + 1) / (t * t * rho2) * math.log(math.sqrt(t * rho2 + 1) / alpha)
    )


# --- exact small cases ------------------------------------------------------------------------


def test_three_props_by_hand():
    production = [0.6, 0.3, 0.5]
    challenger = [0.8, 0.6, 0.5]
    went_over = [True, False, True]
    result = compare(days(2, 1), production, challenger, went_over, [0.55, None, None], min_pairs=1)
    # Brier differences, challenger minus production: 0.04 - 0.16, 0.36 - 0.09, 0.25 - 0.25.
    d = [-0.12, 0.27, 0.0]
    assert [look.n for look in result.looks] == [2, 3]
    assert [look.day for look in result.looks] == [DAY, DAY + dt.timedelta(days=1)]
    first, last = (look.brier_difference for look in result.looks)
    assert first.value == pytest.approx(0.075)
    assert first.high - first.value == pytest.approx(radius(d[:2]))
    assert last.value == pytest.approx(0.05)
    assert last.value - last.low == pytest.approx(radius(d))
    assert result.verdict == KEEP_RUNNING
    assert result.decided_on is None
    assert result.brier_difference == last

    a, b = result.production, result.challenger
    assert (a.n, b.n) == (3, 3)
    assert a.brier == pytest.approx((0.16 + 0.09 + 0.25) / 3)
    assert b.brier == pytest.approx((0.04 + 0.36 + 0.25) / 3)
    # P = 0.5 takes no side; production's over (0.6) and under (0.3) both came in, the
    # challenger's second over (0.6) did not.
    assert (a.picks, a.hit_rate) == (2, 1.0)
    assert (b.picks, b.hit_rate) == (2, 0.5)
    assert a.books_n == b.books_n == 1
    assert a.brier_vs_books == pytest.approx(0.16 - 0.45**2)
    assert b.brier_vs_books == pytest.approx(0.04 - 0.45**2)
    assert a.log_loss == scoring.log_loss(production, [1, 0, 1])
    assert result.log_loss_difference.value == pytest.approx(b.log_loss - a.log_loss)


def test_without_books_there_is_no_books_comparison():
    result = compare(days(1), [0.7], [0.4], [0], min_pairs=1)
    assert result.production.books_n == 0
    assert result.production.brier_vs_books is None


def test_certain_probabilities_are_accepted_and_their_log_loss_is_clipped():
    result = compare(days(2), [0.0, 1.0], [1.0, 0.0], [1, 0], min_pairs=1)
    assert result.production.log_loss == pytest.approx(-math.log(scoring.LOG_LOSS_EPSILON))
    assert result.challenger.log_loss == pytest.approx(-math.log(1 - scoring.LOG_LOSS_EPSILON))
    assert result.production.hit_rate == 0.0
    assert result.challenger.hit_rate == 1.0


def test_identical_arms_end_in_no_difference_once_the_sample_is_large_enough():
    rng = np.random.default_rng(1)
    p = rng.uniform(0.2, 0.8, 40)
    y = rng.random(40) < p
    result = compare(days(*[4] * 10), p, p, y, min_pairs=10)
    assert [look.verdict for look in result.looks[:2]] == [KEEP_RUNNING] * 2  # 4, 8 pairs
    assert result.verdict == NO_DIFFERENCE
    assert result.decided_on == DAY + dt.timedelta(days=2)  # the first look with 12 pairs
    assert result.brier_difference.n == 12
    assert result.brier_difference.low == result.brier_difference.high == 0.0
    assert result.production == result.challenger


# --- the rule at a look and the stopping rule -------------------------------------------------


@pytest.mark.parametrize(
    ("n", "low", "high", "verdict"),
    [
        (99, 0.01, 0.02, KEEP_RUNNING),  # under the minimum sample, whatever it reads
        (100, 0.01, 0.02, CHALLENGER_WORSE),
        (100, -0.02, -0.01, CHALLENGER_BETTER),
        (100, 0.0, 0.02, KEEP_RUNNING),  # touching 0 is not excluding it
        (100, -0.02, 0.0, KEEP_RUNNING),
        (100, -0.002, 0.002, NO_DIFFERENCE),  # the margin's edges are inside
        (100, -0.0021, 0.001, KEEP_RUNNING),
        (100, 0.0005, 0.0015, CHALLENGER_WORSE),  # significant wins over equivalent
        (100, -0.01, 0.01, KEEP_RUNNING),
    ],
)
def test_the_rule_at_one_look(n: int, low: float, high: float, verdict: str):
    assert read_look(n, low, high, margin=0.002, min_pairs=100) == verdict


def alternating(pairs: int) -> np.ndarray:
    return np.arange(pairs) % 2 == 0


def test_the_first_verdict_stands_whatever_later_looks_read():
    """Worse for two days, then better for twenty: the later days turn the sequence around,
    but the test stopped on day two."""
    y = alternating(440)
    production = np.full(440, 0.5)
    challenger = np.where(y, 0.2, 0.7)  # worse: Brier 0.64 or 0.49 against 0.25
    challenger[40:] = np.where(y[40:], 0.9, 0.1)  # better: 0.01 against 0.25
    result = compare(days(*[20] * 22), production, challenger, y, min_pairs=20)
    assert result.verdict == CHALLENGER_WORSE
    decided = next(look for look in result.looks if look.verdict != KEEP_RUNNING)
    assert result.decided_on == decided.day
    assert result.brier_difference == decided.brier_difference
    assert result.production.n == result.challenger.n == decided.n <= 40
    assert result.looks[-1].verdict == CHALLENGER_BETTER  # what a later look alone reads
    assert len(result.looks) == 22  # every look is reported, the verdict is the first


def test_fewer_pairs_than_the_minimum_keep_running():
    y = alternating(60)
    result = compare(days(*[20] * 3), np.full(60, 0.5), np.where(y, 0.0, 1.0), y, min_pairs=61)
    assert result.verdict == KEEP_RUNNING
    assert result.looks[-1].brier_difference.low > 0  # it would read worse, but too early


def test_swapping_the_arms_mirrors_everything():
    rng = np.random.default_rng(5)
    p = rng.uniform(0.3, 0.7, 1_000)
    q = np.clip(p + rng.normal(0.25, 0.05, 1_000), 0, 1)  # off by 0.25: Brier about +0.06
    y = rng.random(1_000) < p
    ab = compare(days(*[50] * 20), p, q, y, min_pairs=50)
    ba = compare(days(*[50] * 20), q, p, y, min_pairs=50)
    assert ab.verdict == CHALLENGER_WORSE
    assert ba.verdict == CHALLENGER_BETTER
    assert ab.decided_on == ba.decided_on
    assert ab.brier_difference.value == pytest.approx(-ba.brier_difference.value)
    assert ab.brier_difference.low == pytest.approx(-ba.brier_difference.high)
    assert (ab.production, ab.challenger) == (ba.challenger, ba.production)


@settings(max_examples=60, deadline=None)
@given(
    per_day=st.lists(st.integers(1, 6), min_size=1, max_size=12),
    seed=st.integers(0, 2**32 - 1),
    cut=st.integers(0, 11),
)
def test_a_look_reads_only_the_data_up_to_it(per_day: list[int], seed: int, cut: int):
    """Days added later change no earlier look: the verdict at day t uses data up to t."""
    rng = np.random.default_rng(seed)
    n = sum(per_day)
    p, q, y = rng.random(n), rng.random(n), rng.random(n) < 0.5
    full = compare(days(*per_day), p, q, y, min_pairs=3)
    k = min(cut, len(per_day) - 1) + 1
    m = sum(per_day[:k])
    prefix = compare(days(*per_day[:k]), p[:m], q[:m], y[:m], min_pairs=3)
    assert prefix.looks == full.looks[:k]
    if prefix.decided_on is not None:
        assert (full.verdict, full.decided_on) == (prefix.verdict, prefix.decided_on)


# --- the confidence sequence ------------------------------------------------------------------


def test_rows_are_independent_sequences():
    rng = np.random.default_rng(2)
    d = rng.uniform(-1, 1, (3, 50))
    mean, low, high = confidence_sequence(d)
    for row in range(3):
        one = confidence_sequence(d[row])
        np.testing.assert_array_equal(mean[row], one[0])
        np.testing.assert_array_equal(low[row], one[1])
        np.testing.assert_array_equal(high[row], one[2])


def test_the_sequence_is_wider_than_a_fixed_sample_interval_and_shrinks():
    """Peeking has a price: at every t the half-width exceeds 1.96 s / sqrt(t); with the same
    spread it keeps shrinking as pairs come in."""
    d = np.tile([1.0, -1.0], 50_000)  # s = 1 at every even t
    _, low, high = confidence_sequence(d)
    t = np.arange(2, len(d) + 1, 2)
    half = (high - low)[t - 1] / 2
    assert (half > 1.96 / np.sqrt(t)).all()
    assert (np.diff(half) < 0).all()


def test_days_that_move_together_widen_the_sequence():
    """Three pairs of +0.1 on one day, three of -0.1 the next: the pair variance is 0.01, the
    day variance ((0.3 - 0)^2 + (-0.3 - 0)^2) / 6 = 0.03, and the larger is used."""
    d = [0.1, 0.1, 0.1, -0.1, -0.1, -0.1]
    mean, low, high = confidence_sequence(d, [2, 5])
    assert mean.tolist() == pytest.approx([0.1, 0.0])
    assert [low[0], high[0]] == pytest.approx([0.1, 0.1], abs=1e-6)  # one day, no spread
    assert high[1] == pytest.approx(radius(d) * math.sqrt(3))
    _, low_each, high_each = confidence_sequence(d)
    assert high_each[-1] == pytest.approx(radius(d))  # a look per pair: the pair variance


def test_a_larger_alpha_gives_a_narrower_sequence_inside_the_other():
    rng = np.random.default_rng(4)
    d = rng.uniform(-1, 1, 500)
    _, low_05, high_05 = confidence_sequence(d, alpha=0.05)
    _, low_20, high_20 = confidence_sequence(d, alpha=0.20)
    assert (low_05[1:] < low_20[1:]).all()
    assert (high_20[1:] < high_05[1:]).all()


def test_the_mixture_is_tightest_near_the_time_it_is_tuned_for():
    def half_width(t: int, tuned_for: float) -> float:
        rho2 = mixture_rho2(0.05, tuned_for)
        return math.sqrt(
            2 * (t * rho2 + 1) / (t * t * rho2) * math.log(math.sqrt(t * rho2 + 1) / 0.05)
        )

    for t in (500, 5_000, 50_000):
        assert half_width(t, t) < min(half_width(t, t / 4), half_width(t, t * 4))


# --- bad input ----------------------------------------------------------------------------------

GOOD = {
    "days": days(2, 1),
    "production": [0.6, 0.3, 0.5],
    "challenger": [0.8, 0.6, 0.5],
    "went_over": [1, 0, 1],
    "books": [0.55, None, None],
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"production": [0.6, 0.3]}, "one length each .* production 2, challenger 3"),
        ({"books": [0.5]}, "books 1"),
        ({"days": days(2)}, "days 2"),
        ({"production": [0.6, 1.2, 0.5]}, r"production P\(over\) .* got 1.2 at index 1"),
        ({"production": [-0.1, 0.3, 0.5]}, "got -0.1 at index 0"),
        ({"challenger": [0.8, math.nan, 0.5]}, r"challenger P\(over\) .* got nan at index 1"),
        ({"went_over": [1, 0.5, 1]}, "went_over must be 0/1 .* got 0.5 at index 1"),
        ({"went_over": [1, math.nan, 1]}, "went_over must be 0/1"),
        ({"books": [math.nan, None, None]}, r"books' P\(over\) .* or None \(no line\): got nan"),
        ({"books": [None, 1.5, None]}, "got 1.5 at index 1"),
        ({"days": days(1, 2)[::-1]}, "time order: day 2024-03-01 at index 2"),
        (dict.fromkeys(GOOD, []), "no paired records"),
    ],
)
def test_bad_records_are_refused_with_what_is_wrong(change: dict, message: str):
    with pytest.raises(ValueError, match=message):
        compare(**(GOOD | change))


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"alpha": 0.0}, r"alpha must be in \(0, 1\)"),
        ({"alpha": 1.0}, "alpha"),
        ({"alpha": math.nan}, "alpha"),
        ({"margin": -0.001}, "margin must be a Brier difference >= 0"),
        ({"margin": math.nan}, "margin"),
        ({"min_pairs": 0}, "min_pairs must be at least 1"),
        ({"tuned_for": 0}, "tuned_for must be a positive number"),
    ],
)
def test_bad_settings_are_refused(setting: dict, message: str):
    with pytest.raises(ValueError, match=message):
        compare(**GOOD, **setting)


def test_the_sequence_refuses_nan_and_bad_looks():
    with pytest.raises(ValueError, match="finite"):
        confidence_sequence([0.1, math.nan])
    for looks in ([0], [1, 1, 2], [-1, 2], []):
        with pytest.raises(ValueError, match="ending at the last record"):
            confidence_sequence([0.1, 0.2, 0.3], looks)
    with pytest.raises(ValueError, match="alpha"):
        confidence_sequence([0.1], alpha=2.0)
