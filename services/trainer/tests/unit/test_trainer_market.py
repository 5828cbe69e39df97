"""The market layer's fit: it recovers the weights that made the outcomes (synthetic, unit
scale), the vectorised odds the evaluation and the backtest use are the ones served one prop
at a time, and bets are recommended only from an edge whose every bucket made money."""

import datetime as dt

import numpy as np
import pytest

from statmuse_shared.models.count import LineBlend
from statmuse_shared.models.distributions import line_probabilities
from statmuse_shared.models.market import LayerScore, MarketLayer
from statmuse_shared.models.output import ModelOutput
from statmuse_trainer.training.market import Bucket, fit_coefficients, min_edge
from statmuse_trainer.training.served import given_no_push, layer_over, market_odds, nb_line_odds

DAY = dt.date(2024, 3, 1)


def test_the_fit_recovers_the_weights_that_made_the_outcomes():
    rng = np.random.default_rng(3)
    n = 40_000
    books = rng.uniform(0.3, 0.7, n)
    model = rng.uniform(0.2, 0.8, n)
    truth = np.array([-0.05, 1.1, 0.2])
    p = layer_over(truth, books, model)
    went = (rng.uniform(size=n) < p).astype(float)
    coef = fit_coefficients(books, model, went)
    assert coef == pytest.approx(truth, abs=0.06)
    assert layer_over(coef, books, model) == pytest.approx(p, abs=0.02)


def test_books_alone_are_kept_when_the_model_knows_nothing():
    rng = np.random.default_rng(4)
    n = 40_000
    books = rng.uniform(0.3, 0.7, n)
    model = rng.uniform(0.2, 0.8, n)  # noise
    went = (rng.uniform(size=n) < books).astype(float)
    intercept, book, own = fit_coefficients(books, model, went)
    assert book == pytest.approx(1.0, abs=0.1)
    assert abs(own) < 0.06
    assert abs(intercept) < 0.05


def layer(min_edge: float | None = None) -> MarketLayer:
    score = LayerScore(
        first_day=DAY, last_day=DAY, lines=1, brier=0.2, brier_line_blend=0.21, brier_books=0.2
    )
    return MarketLayer(
        intercept=-0.05,
        book_weight=1.07,
        model_weight=0.08,
        first_day=DAY,
        last_day=DAY,
        lines=900,
        out_of_sample=score,
        min_edge=min_edge,
    )


def test_the_vectorised_odds_are_the_served_ones():
    rng = np.random.default_rng(7)
    mu = rng.uniform(0.5, 45, 60)
    phi = rng.uniform(1.1, 3.0, 60)
    lines = np.floor(rng.uniform(0.5, 45, 60)) + rng.choice([0.0, 0.5], 60)
    books = rng.uniform(0.2, 0.8, 60)
    m = layer()
    under, push, over = market_odds(m, None, mu, phi, lines, books)
    for i in range(60):
        out = ModelOutput(
            distribution=None,  # type: ignore[arg-type] - the layer never reads it
            contributions=(),
            mean=float(mu[i]),
            dispersion=float(phi[i]),
            market=m,
        )
        dist, method = out.at_line(float(lines[i]), float(books[i]))
        assert method == "market_layer"
        odds = line_probabilities(dist, float(lines[i]))
        assert (under[i], push[i], over[i]) == pytest.approx(
            (odds.under_probability, odds.push_probability, odds.over_probability), abs=1e-6
        )
    # And P(over | no push) is the layer's number itself.
    u, _, o = nb_line_odds(mu, phi, lines)
    coef = np.array([m.intercept, m.book_weight, m.model_weight])
    expected = layer_over(coef, books, given_no_push(u, o))
    assert given_no_push(under, over) == pytest.approx(expected, abs=1e-6)


def bucket(low: float, roi_low: float, bets: int = 100) -> Bucket:
    return Bucket(low, bets, (0.55, 0.5, 0.6), (roi_low + 0.02, roi_low, roi_low + 0.04))


def test_bets_only_from_the_edge_where_every_bucket_made_money():
    assert min_edge([bucket(0.0, -0.05), bucket(0.02, 0.01), bucket(0.05, 0.02)]) == 0.02
    # A losing bucket above a winning one: the winning one is not a record yet.
    assert min_edge([bucket(0.0, -0.05), bucket(0.02, 0.01), bucket(0.05, -0.01)]) is None
    assert min_edge([bucket(0.0, -0.05), bucket(0.02, 0.01), bucket(0.05, 0.02, bets=0)]) is None
    assert min_edge([]) is None


BLEND = LineBlend(weight=0.4, offset=0.2, first_day=DAY, last_day=DAY, lines=500)


@pytest.mark.parametrize(
    ("line", "books"),
    [(0.0, 0.5), (0.5, 0.001)],  # nothing lands under 0; a P(over) no mean gives at 0.5
)
def test_where_no_distribution_gives_the_layers_number_the_line_blend_answers(
    line: float, books: float
):
    m = layer()
    out = ModelOutput(
        distribution=None,  # type: ignore[arg-type] - neither path reads it
        contributions=(),
        mean=20.0,
        dispersion=1.6,
        blend=(BLEND.weight, BLEND.offset),
        market=m,
    )
    dist, method = out.at_line(line, books)
    assert method == "line_blend"
    want = line_probabilities(dist, line)
    under, push, over = market_odds(
        m, BLEND, np.array([20.0]), np.array([1.6]), np.array([line]), np.array([books])
    )
    assert (under[0], push[0], over[0]) == pytest.approx(
        (want.under_probability, want.push_probability, want.over_probability), abs=1e-9
    )
