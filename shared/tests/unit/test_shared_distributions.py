import math
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statmuse_shared.models.distributions import (
    DiscretizedNormal,
    Poisson,
    line_probabilities,
    pmf,
    quantile,
    quantiles,
)

E15 = math.exp(-1.5)


def test_poisson_cdf_matches_hand_computed_value() -> None:
    # P(X <= 2 | lam=1.5) = e^-1.5 (1 + 1.5 + 1.5^2/2)
    assert Poisson(1.5).cdf(2) == pytest.approx(E15 * (1 + 1.5 + 1.125), abs=1e-15)
    assert Poisson(1.5).cdf(2) == pytest.approx(0.8088468305380581, abs=1e-12)


def test_poisson_cdf_below_zero_is_zero() -> None:
    assert Poisson(1.5).cdf(-1) == 0.0


def test_poisson_cdf_for_a_large_rate() -> None:
    # P(X <= lam) tends to 1/2 (+ a little) for large lam; for lam=800 it is about 0.509.
    assert Poisson(800.0).cdf(800) == pytest.approx(0.5094, abs=1e-3)


def test_whole_line_has_a_push_half_line_does_not() -> None:
    dist = Poisson(1.5)
    whole = line_probabilities(dist, 2)
    assert whole.under_probability == pytest.approx(E15 * 2.5, abs=1e-12)  # X in {0, 1}
    assert whole.push_probability == pytest.approx(E15 * 1.125, abs=1e-12)  # X == 2
    assert whole.over_probability == pytest.approx(1 - E15 * 3.625, abs=1e-12)  # X >= 3

    half = line_probabilities(dist, 2.5)
    assert half.under_probability == pytest.approx(E15 * 3.625, abs=1e-12)  # X <= 2
    assert half.push_probability == 0.0
    assert half.over_probability == pytest.approx(1 - E15 * 3.625, abs=1e-12)


def test_line_zero_is_all_push_or_over() -> None:
    odds = line_probabilities(Poisson(1.5), 0)
    assert odds.under_probability == 0.0
    assert odds.push_probability == pytest.approx(E15, abs=1e-15)
    assert odds.over_probability == pytest.approx(1 - E15, abs=1e-15)


@pytest.mark.parametrize("line", [-0.5, -1, math.nan, math.inf])
def test_invalid_lines_are_refused(line: float) -> None:
    with pytest.raises(ValueError, match="non-negative"):
        line_probabilities(Poisson(3.0), line)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Poisson(0.0), "poisson"),
        (lambda: Poisson(math.nan), "poisson"),
        (lambda: DiscretizedNormal(10.0, 0.0), "normal"),
        (lambda: DiscretizedNormal(math.inf, 1.0), "normal"),
    ],
)
def test_invalid_parameters_are_refused(make: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def phi(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2))


def test_discretized_normal_rounds_to_nearest_whole_number() -> None:
    dist = DiscretizedNormal(mu=20.0, sigma=5.0)
    # P(X == 20) = P(19.5 <= Y < 20.5) for Y ~ N(20, 5)
    assert dist.cdf(20) - dist.cdf(19) == pytest.approx(phi(0.1) - phi(-0.1), abs=1e-15)
    assert dist.cdf(20) == pytest.approx(phi(0.1), abs=1e-15)


def test_discretized_normal_folds_mass_below_zero_onto_zero() -> None:
    dist = DiscretizedNormal(mu=1.0, sigma=2.0)
    # P(X == 0) carries all of P(Y < 0.5), the negative tail included.
    p0 = 0.5 * math.erfc(0.25 / math.sqrt(2))  # Phi(-0.25)
    assert pmf(dist, 0, 0)[0] == pytest.approx(p0, abs=1e-15)
    assert p0 == pytest.approx(0.4012936743170763, abs=1e-12)
    assert dist.cdf(-1) == 0.0
    # No mass is lost: the support {0, 1, ...} carries it all.
    assert math.fsum(pmf(dist, 0, 60)) == pytest.approx(1.0, abs=1e-12)
    at_zero = line_probabilities(dist, 0)
    assert at_zero.under_probability == 0.0
    assert at_zero.push_probability == pytest.approx(p0, abs=1e-15)


def test_poisson_quantiles_hand_computed() -> None:
    # cdf(0)=.2231 cdf(1)=.5578 cdf(2)=.8088 cdf(3)=.9344 cdf(4)=.9814
    assert quantiles(Poisson(1.5)) == {"q05": 0.0, "q25": 1.0, "q50": 1.0, "q75": 2.0, "q95": 4.0}


def test_normal_median_is_mu_for_whole_mu() -> None:
    assert quantile(DiscretizedNormal(20.0, 5.0), 0.5) == 20
    # cdf(19) = Phi(-0.1) = 0.4602, cdf(18) = Phi(-0.3) = 0.3821
    assert quantile(DiscretizedNormal(20.0, 5.0), 0.46) == 19
    assert quantile(DiscretizedNormal(20.0, 5.0), 0.461) == 20


normals = st.builds(
    DiscretizedNormal,
    mu=st.floats(min_value=0.0, max_value=80.0),
    sigma=st.floats(min_value=0.05, max_value=25.0),
)
poissons = st.builds(Poisson, lam=st.floats(min_value=0.01, max_value=80.0))
distributions = st.one_of(normals, poissons)
whole_lines = st.integers(min_value=0, max_value=90).map(float)
half_lines = st.integers(min_value=0, max_value=90).map(lambda k: k + 0.5)


@settings(max_examples=300, deadline=None)
@given(dist=distributions, line=st.one_of(whole_lines, half_lines))
def test_line_probabilities_are_a_distribution(dist: object, line: float) -> None:
    odds = line_probabilities(dist, line)  # type: ignore[arg-type]
    parts = (odds.under_probability, odds.push_probability, odds.over_probability)
    assert all(0.0 <= p <= 1.0 for p in parts)
    assert math.fsum(parts) == pytest.approx(1.0, abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(dist=distributions, line=half_lines)
def test_no_push_at_half_lines(dist: object, line: float) -> None:
    assert line_probabilities(dist, line).push_probability == 0.0  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(dist=distributions, k=st.integers(min_value=0, max_value=90))
def test_push_at_whole_line_is_the_point_mass(dist: object, k: int) -> None:
    odds = line_probabilities(dist, float(k))  # type: ignore[arg-type]
    assert odds.push_probability == pytest.approx(pmf(dist, k, k)[0], abs=1e-12)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(dist=distributions)
def test_quantiles_are_monotone_and_satisfy_their_definition(dist: object) -> None:
    qs = quantiles(dist)  # type: ignore[arg-type]
    values = [qs[k] for k in ("q05", "q25", "q50", "q75", "q95")]
    assert values == sorted(values)
    for q, k in zip((0.05, 0.25, 0.5, 0.75, 0.95), values, strict=True):
        assert dist.cdf(int(k)) >= q  # type: ignore[attr-defined]
        assert int(k) == 0 or dist.cdf(int(k) - 1) < q  # type: ignore[attr-defined]
