import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statmuse_shared.models.distributions import (
    MAX_DISPERSION,
    NegativeBinomial,
    Poisson,
    fit_dispersion,
    line_probabilities,
    quantile,
)


def test_r_one_is_geometric_hand_computed():
    # mu = 2, r = 1: P(X = k) = (1/3) (2/3)^k.
    d = NegativeBinomial(2.0, 1.0)
    assert d.cdf(0) == pytest.approx(1 / 3, abs=1e-12)
    assert d.cdf(2) == pytest.approx((1 / 3) * (1 + 2 / 3 + 4 / 9), abs=1e-12)
    assert d.sd == pytest.approx(math.sqrt(2 + 4), abs=1e-12)


def test_huge_dispersion_is_poisson():
    nb, po = NegativeBinomial(4.2, MAX_DISPERSION), Poisson(4.2)
    for k in range(15):
        assert nb.cdf(k) == pytest.approx(po.cdf(k), abs=1e-5)


@settings(max_examples=80, deadline=None)
@given(mu=st.floats(0.1, 40), r=st.floats(0.2, 500), line=st.integers(0, 60))
def test_line_probabilities_sum_to_one_and_mean_is_right(mu, r, line):
    d = NegativeBinomial(mu, r)
    odds = line_probabilities(d, line + 0.5 * (line % 2))
    total = odds.over_probability + odds.under_probability + odds.push_probability
    assert total == pytest.approx(1.0, abs=1e-12)
    assert quantile(d, 0.5) >= 0


def test_mean_of_the_pmf_matches_mu():
    d = NegativeBinomial(6.5, 3.0)
    mean = sum(k * (d.cdf(k) - d.cdf(k - 1)) for k in range(400))
    assert mean == pytest.approx(6.5, rel=1e-9)


def test_fit_dispersion_by_moments():
    values = [0, 1, 2, 3, 10, 2, 1, 0, 5, 6]  # mean 3, sample variance 10
    assert fit_dispersion([float(v) for v in values]) == pytest.approx(9 / 7)
    assert fit_dispersion([3.0, 3.0, 3.0]) == MAX_DISPERSION  # no extra spread: Poisson
    with pytest.raises(ValueError, match="two values"):
        fit_dispersion([1.0])


def test_invalid_parameters_are_refused():
    with pytest.raises(ValueError, match="invalid negative binomial"):
        NegativeBinomial(0.0, 2.0)
    with pytest.raises(ValueError, match="invalid negative binomial"):
        NegativeBinomial(2.0, -1.0)
