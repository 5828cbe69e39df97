"""The market layer and the one distribution a prediction draws: the layer's number is the
distribution's P(over | no push) at the line, the chart and the headline agree whichever way
the distribution was made, and it has one peak where the model has one."""

import datetime as dt
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statmuse_shared.contract.messages import ModelPublished
from statmuse_shared.contract.stats import Stat
from statmuse_shared.models.distributions import (
    NegativeBinomial,
    Tabulated,
    line_probabilities,
    quantiles,
    tabulate,
)
from statmuse_shared.models.market import (
    MIN_CENTRE,
    LayerScore,
    MarketLayer,
    centre_for_over,
    expit,
    logit,
    over_given_no_push,
)
from statmuse_shared.models.output import ModelOutput
from statmuse_shared.models.prediction import books_over, chart, quote

DAY = dt.date(2024, 3, 20)
PHI = 1.6
INFO = ModelPublished(
    event_id="m",
    name="points-x",
    version="v1",
    stat=Stat.POINTS,
    alias="production",
    model_type="count_model",
    artifact_uri="mem://v1",
    checksum="0",
    feature_set_version="fs",
)


def layer(intercept: float = -0.06, book: float = 0.9, model: float = 0.12) -> MarketLayer:
    score = LayerScore(
        first_day=DAY, last_day=DAY, lines=10, brier=0.24, brier_line_blend=0.25, brier_books=0.245
    )
    return MarketLayer(
        intercept=intercept,
        book_weight=book,
        model_weight=model,
        first_day=DAY,
        last_day=DAY,
        lines=500,
        out_of_sample=score,
    )


def lumpy(mean: float) -> Tabulated:
    """A calibrated-looking own distribution: the NB's CDF through a kinked map."""
    nb = NegativeBinomial(mean, mean / (PHI - 1))
    table = []
    for k in range(int(mean * 4) + 40):
        c = nb.cdf(k)
        table.append(c + 0.07 * math.sin(4 * math.pi * c))  # monotone, with a wavy slope
    return Tabulated((*table, 1.0))


def output(mean: float = 24.0, *, market: MarketLayer | None = None) -> ModelOutput:
    return ModelOutput(lumpy(mean), (), None, mean, PHI, (0.4, 0.2), market)


@given(
    target=st.floats(0.02, 0.98),
    line=st.sampled_from([0.5, 1.5, 3.0, 7.5, 12.0, 24.5, 38.5, 51.0]),
    phi=st.floats(1.05, 4.0),
)
@settings(max_examples=200, deadline=None)
def test_the_centre_gives_the_asked_over_probability(target: float, line: float, phi: float):
    c = centre_for_over(target, line, phi, start=line)
    smallest = NegativeBinomial(MIN_CENTRE, MIN_CENTRE / (phi - 1))
    if c is None:  # only when even the smallest mean makes the over more likely than asked
        assert over_given_no_push(smallest, line) > target
        return
    got = over_given_no_push(NegativeBinomial(c, c / (phi - 1)), line)
    assert got == pytest.approx(target, abs=1e-6)


def test_no_centre_at_a_whole_line_of_zero():
    # Nothing lands under 0: P(over | no push) is 1 whatever the mean.
    assert centre_for_over(0.5, 0.0, PHI, start=20.0) is None


def test_a_more_likely_over_needs_a_higher_centre():
    centres = [centre_for_over(p, 24.5, PHI, start=24.5) for p in (0.3, 0.45, 0.5, 0.55, 0.7)]
    assert centres == sorted(centres)
    assert len(set(centres)) == 5


def test_the_layer_is_a_logistic_regression_on_both_logits():
    m = layer(-0.06, 0.9, 0.12)
    expected = expit(-0.06 + 0.9 * logit(0.58) + 0.12 * logit(0.41))
    assert m.over(0.58, 0.41) == pytest.approx(expected)
    neutral = layer(0.0, 1.0, 0.0)
    assert neutral.over(0.58, 0.2) == pytest.approx(0.58)  # the books alone


def test_books_over_needs_both_prices():
    assert books_over(-110, -110) == pytest.approx(0.5)
    assert books_over(-150, 120) == pytest.approx((150 / 250) / (150 / 250 + 100 / 220))
    assert books_over(-110, None) is None
    assert books_over(None, None) is None


@pytest.mark.parametrize("line", [24.5, 22.0, 30.5])
def test_with_a_price_the_headline_is_the_layers_and_the_chart_draws_it(line: float):
    m = layer()
    out = output(market=m)
    q = quote(INFO, out, line=line, books_over=0.56)
    assert q.method == "market_layer"
    assert q.books_over_probability == pytest.approx(0.56)
    own = NegativeBinomial(24.0, 24.0 / (PHI - 1))
    decided = q.over_probability + q.under_probability
    assert q.over_probability / decided == pytest.approx(
        m.over(0.56, over_given_no_push(own, line)), abs=1e-6
    )
    assert_chart_is_the_headline(q)


@pytest.mark.parametrize(
    ("market", "books", "method"), [(None, 0.56, "line_blend"), (layer(), None, "line_blend")]
)
def test_without_a_layer_or_a_price_the_line_blend_answers(
    market: MarketLayer | None, books: float | None, method: str
):
    q = quote(INFO, output(market=market), line=24.5, books_over=books)
    assert q.method == method
    assert q.line_weight == 0.4
    assert q.books_over_probability is None
    centre = 0.4 * 24.0 + 0.6 * (24.5 + 0.2)
    assert q.over_probability == pytest.approx(
        line_probabilities(NegativeBinomial(centre, centre / (PHI - 1)), 24.5).over_probability
    )
    assert_chart_is_the_headline(q)


def test_the_model_alone_is_reported_beside_the_served_view():
    out = output(market=layer())
    q = quote(INFO, out, line=24.5, books_over=0.56)
    assert q.model_over_probability == line_probabilities(out.distribution, 24.5).over_probability
    assert q.predicted_value == pytest.approx(out.distribution.mean)


def assert_chart_is_the_headline(q) -> None:  # noqa: ANN001 - a Prediction
    points = chart(q.dist)
    over = math.fsum(p for v, p in points if v > q.line)
    push = math.fsum(p for v, p in points if v == q.line)
    # The chart covers all but 1e-5 of each tail.
    assert over == pytest.approx(q.over_probability, abs=2e-5)
    assert push == pytest.approx(q.push_probability, abs=1e-9)
    assert q.distribution.mean == pytest.approx(q.dist.mean)
    # One peak: the NB it draws is unimodal, whatever kinks the own distribution has.
    probs = [p for _, p in points]
    top = probs.index(max(probs))
    assert all(a <= b + 1e-12 for a, b in zip(probs[:top], probs[1 : top + 1], strict=True))
    assert all(a >= b - 1e-12 for a, b in zip(probs[top:], probs[top + 1 :], strict=False))


def test_the_own_lumpy_distribution_is_never_what_a_line_draws():
    # Sanity of the fixture: the own distribution has more than one peak...
    own = lumpy(24.0)
    probs = [own.cdf(k) - own.cdf(k - 1) for k in range(60)]
    peaks = [k for k in range(1, 59) if probs[k] > probs[k - 1] and probs[k] >= probs[k + 1]]
    assert len(peaks) > 1
    # ...and no served line draws it once the model weighs lines.
    for books in (None, 0.5):
        q = quote(INFO, output(market=layer()), line=24.5, books_over=books)
        assert q.dist.family == "negative_binomial"


@given(mu=st.floats(0.1, 80.0), phi=st.floats(1.05, 4.0))
@settings(max_examples=100, deadline=None)
def test_a_tabulated_negative_binomial_is_the_same_distribution(mu: float, phi: float):
    nb = NegativeBinomial(mu, mu / (phi - 1))
    table = tabulate(nb)
    assert table.family == "negative_binomial"
    assert quantiles(table) == quantiles(nb)  # the table's binary search, the NB's own sums
    for k in range(int(mu + 5 * nb.sd)):
        assert table.cdf(k) == pytest.approx(nb.cdf(k), abs=1e-9)
    assert table.mean == pytest.approx(mu, rel=1e-6)


def test_a_bet_needs_an_edge_with_a_record():
    assert not layer().recommends(0.2)  # no min_edge: no edge size earned it
    with_record = layer().model_copy(update={"min_edge": 0.03})
    assert with_record.recommends(0.03)
    assert with_record.recommends(-0.05)  # either side
    assert not with_record.recommends(0.029)
    assert not with_record.recommends(None)


def test_the_line_blend_prices_but_never_recommends_a_bet():
    # A mean far above the line at fair odds: worth a bet by EV, but the line blend's calls
    # have no out-of-sample record, so the answer is PASS with its probability intact.
    q = quote(INFO, output(mean=40.0), line=24.5, odds_over=150, odds_under=-180)
    assert q.method == "line_blend"
    assert q.pricing.expected_value_over > 0.02
    assert q.pricing.recommendation == "PASS"
    assert q.pricing.kelly_fraction == 0.0
    assert q.over_probability > 0.6
    # The model alone (no blend) still calls what its EV says, as before.
    alone = ModelOutput(lumpy(40.0), (), None, 40.0, PHI, None, None)
    assert quote(INFO, alone, line=24.5).pricing.recommendation == "OVER"
