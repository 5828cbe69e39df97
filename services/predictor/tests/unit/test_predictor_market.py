"""Pricing posted lines with a model that has a market layer: our P(over) weighs the books'
median de-vigged price (what /api/predict gives for that line and price), and the best price's
call is kept only from the edge the layer has an out-of-sample record for."""

import datetime as dt
import statistics
from typing import Any

import pytest

from statmuse_predictor.ports import Posted, Pregame
from statmuse_predictor.service import price_props
from statmuse_shared.contract.messages import ModelPublished
from statmuse_shared.contract.stats import Stat
from statmuse_shared.models.distributions import NegativeBinomial
from statmuse_shared.models.market import LayerScore, MarketLayer
from statmuse_shared.models.output import ModelOutput
from statmuse_shared.models.pricing import devig
from statmuse_shared.models.serving import ModelBook, Served

DAY = dt.date(2024, 3, 20)
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


def layer(min_edge: float | None) -> MarketLayer:
    return MarketLayer(
        intercept=-0.05,
        book_weight=1.07,
        model_weight=0.6,  # a model with a strong view, so the edges are large
        first_day=DAY,
        last_day=DAY,
        lines=900,
        out_of_sample=LayerScore(
            first_day=DAY, last_day=DAY, lines=1, brier=0.2, brier_line_blend=0.21, brier_books=0.2
        ),
        min_edge=min_edge,
    )


class Layered:
    stat = Stat.POINTS
    model_type = "count_model"

    def __init__(self, market: MarketLayer) -> None:
        self.market = market

    def predict(self, features: dict[str, Any], player_id: int | None = None) -> ModelOutput:
        return ModelOutput(
            NegativeBinomial(31.0, 31.0 / 0.6), (), None, 31.0, 1.6, (0.4, 0.2), self.market
        )


def book_of(market: MarketLayer) -> ModelBook:
    book = ModelBook(store=None)  # type: ignore[arg-type] - nothing is loaded from it
    book.production["points"] = Served(INFO, Layered(market))
    return book


VECTOR = Pregame(2544, "LeBron James", "LAL", DAY, "DEN", True, DAY, DAY, {})
POSTED = [
    Posted("g1", Stat.POINTS, "draftkings", 25.5, -115, -105),
    Posted("g1", Stat.POINTS, "fanduel", 25.5, -110, -110),
    Posted("g1", Stat.POINTS, "betmgm", 25.5, -120, 100),
]


@pytest.mark.parametrize(("min_edge", "call"), [(None, "PASS"), (0.9, "PASS"), (0.02, "OVER")])
def test_the_books_median_price_is_weighed_and_calls_need_a_record(
    min_edge: float | None, call: str
) -> None:
    market = layer(min_edge)
    [prop] = price_props(book_of(market), VECTOR, POSTED)
    assert prop.ab_arms == []  # no test running
    fair = statistics.median(devig(p.over_price, p.under_price or 0) for p in POSTED)
    assert prop.books_over_probability == pytest.approx(fair)
    decided = prop.over_probability + prop.under_probability
    own = ModelOutput(
        NegativeBinomial(31.0, 31.0 / 0.6), (), None, 31.0, 1.6, None, market
    ).at_line(25.5, fair)
    assert own[1] == "market_layer"
    assert prop.over_probability / decided == pytest.approx(1 - own[0].cdf(25), abs=1e-9)
    assert prop.edge is not None
    assert prop.edge > 0.02  # the model's strong view moves us well off the books
    assert prop.best is not None
    assert prop.best.side == "over"
    assert prop.recommendation == call


@pytest.mark.parametrize(
    ("mode", "share", "ab_share", "answered_by"),
    [
        ("canary", 0.5, 0.0, "v2 for its share"),
        (None, None, 0.5, "v1"),  # an A/B challenger is not what users are answered with
        ("shadow", None, 0.0, "v1"),
    ],
)
def test_the_slate_prices_with_the_model_a_user_is_answered_with(
    mode: str | None, share: float | None, ab_share: float, answered_by: str
) -> None:
    from statmuse_shared.models.serving import ab_bucket

    book = book_of(layer(None))
    book.ab_share = ab_share
    staged = INFO.model_copy(
        update={"version": "v2", "alias": "staging", "mode": mode, "share": share}
    )
    book.staging["points"] = Served(staged, Layered(layer(None)))
    versions = {}
    for pid in range(1, 60):
        vector = Pregame(pid, "P", "LAL", DAY, "DEN", True, DAY, DAY, {})
        [prop] = price_props(book, vector, POSTED)
        versions[pid] = prop.model_version
        # Whoever answers, both arms are priced at the line for the A/B test vs the books.
        assert [(a.arm, a.model_version) for a in prop.ab_arms] == [
            ("production", "v1"),
            ("challenger", "v2"),
        ]
        assert [q.line for a in prop.ab_arms for q in a.lines] == [25.5, 25.5]
        answering = prop.ab_arms[0 if prop.model_version == "v1" else 1].lines[0]
        assert answering.over_probability == pytest.approx(prop.over_probability)
    if answered_by == "v1":
        assert set(versions.values()) == {"v1"}
    else:
        assert versions == {pid: "v2" if ab_bucket(pid, DAY) < 0.5 else "v1" for pid in versions}
