"""A prop priced from a model output: P(over/under/push) at a sportsbook's line (through the
model's market layer when the books' price is known, else its line blend, where it has them),
the value and stake of each side at the offered odds, and the model's own view beside it; plus
the distribution summaries the predictions topic and the dashboard show. One distribution: the
summary, the chart and the headline P(over) all come from the distribution at the line. Pure:
the model has already run (`serving.predict` runs it, then calls `quote`; the gateway runs a
whole batch through `predict_many` first)."""

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

from statmuse_shared.contract.messages import DistributionSummary, LineProbability, ModelPublished
from statmuse_shared.contract.stats import Stat
from statmuse_shared.models.distributions import (
    CountDistribution,
    line_probabilities,
    pmf,
    quantiles,
)
from statmuse_shared.models.output import Contribution, Method, ModelOutput
from statmuse_shared.models.pricing import DEFAULT_AMERICAN_ODDS, Pricing, devig, price


@dataclass(frozen=True, slots=True)
class Prediction:
    stat: Stat
    line: float
    predicted_value: float
    over_probability: float
    under_probability: float
    push_probability: float
    pricing: Pricing
    distribution: DistributionSummary  # of `dist`
    dist: CountDistribution  # the distribution the probabilities come from (charts draw it)
    contributions: tuple[Contribution, ...]
    model_version: str
    fallback: str | None
    # P(over) from the model's distribution alone, and the weight the model's mean got against
    # the line (None: the model does not weigh the line; see `models.LineBlend`).
    model_over_probability: float
    line_weight: float | None
    # How `dist` was made, and the books' de-vigged P(over) it weighed (None: no price given).
    method: Method = "model"
    books_over_probability: float | None = None


def books_over(odds_over: int | None, odds_under: int | None) -> float | None:
    """The books' de-vigged P(over) from both sides' American odds; None without both."""
    if odds_over is None or odds_under is None:
        return None
    return devig(odds_over, odds_under)


def quote(
    info: ModelPublished,
    output: ModelOutput,
    *,
    line: float,
    odds_over: int = DEFAULT_AMERICAN_ODDS,
    odds_under: int = DEFAULT_AMERICAN_ODDS,
    books_over: float | None = None,
) -> Prediction:
    """The prop at `line` from the output of the model `info` describes; `books_over`, the
    books' de-vigged P(over) at this line when known, feeds the market layer."""
    dist, method = output.at_line(line, books_over)
    odds = line_probabilities(dist, line)
    alone = odds if method == "model" else line_probabilities(output.distribution, line)
    pricing = price(odds, odds_over=odds_over, odds_under=odds_under)
    if method == "line_blend" and pricing.recommendation != "PASS":
        # A call from the line blend has no out-of-sample record to stand on: its edges lost
        # money against the books at their median price on the later 2023-24 lines, at every
        # edge size (docs/MARKET.md). The probability stands; the bet does not.
        pricing = dataclasses.replace(pricing, recommendation="PASS", kelly_fraction=0.0)
    if method == "market_layer" and pricing.recommendation != "PASS":
        assert output.market is not None
        assert books_over is not None
        decided = odds.over_probability + odds.under_probability
        edge = odds.over_probability / decided - books_over if decided > 0 else None
        if not output.market.recommends(edge):  # no out-of-sample record at this edge
            pricing = dataclasses.replace(pricing, recommendation="PASS", kelly_fraction=0.0)
    return Prediction(
        stat=info.stat,
        line=line,
        predicted_value=output.distribution.mean,
        over_probability=odds.over_probability,
        under_probability=odds.under_probability,
        push_probability=odds.push_probability,
        pricing=pricing,
        distribution=summarise(dist),
        dist=dist,
        contributions=output.contributions,
        model_version=info.version,
        fallback=output.fallback,
        model_over_probability=alone.over_probability,
        line_weight=None if output.blend is None or method != "line_blend" else output.blend[0],
        method=method,
        books_over_probability=books_over if method == "market_layer" else None,
    )


def summarise(dist: CountDistribution) -> DistributionSummary:
    return DistributionSummary(
        family=dist.family, mean=dist.mean, sd=dist.sd, quantiles=quantiles(dist)
    )


def nearby_lines(mean: float) -> list[float]:
    """Half-point lines around the mean, the way books set them."""
    centre = math.floor(mean) + 0.5
    return [max(0.5, centre - 1), max(0.5, centre), centre + 1]


def line_table(
    dist: CountDistribution, lines: Sequence[float] | None = None
) -> list[LineProbability]:
    """P(over/under/push) at the half-point lines around the mean (or at `lines`)."""
    out = []
    for line in dict.fromkeys(nearby_lines(dist.mean) if lines is None else lines):
        odds = line_probabilities(dist, line)
        out.append(
            LineProbability(
                line=line,
                over_probability=odds.over_probability,
                under_probability=odds.under_probability,
                push_probability=odds.push_probability,
            )
        )
    return out


def chart(dist: CountDistribution, tail: float = 1e-5) -> list[tuple[int, float]]:
    """(value, probability) pairs for the dashboard: every value but the `tail` of mass at
    each end, so the bars above a line add up to the P(over) shown beside them."""
    lo = max(0, math.floor(dist.mean - 4 * dist.sd))
    while lo > 0 and dist.cdf(lo - 1) > tail:
        lo -= 1
    hi = math.ceil(dist.mean + 4 * dist.sd)
    while dist.cdf(hi) < 1.0 - tail:
        hi += 1
    return list(zip(range(lo, hi + 1), pmf(dist, lo, hi), strict=True))
