"""A prop priced from a model output: P(over/under/push) at a sportsbook's line (through the
model's line blend where it has one), the value and stake of each side at the offered odds,
and the model's own view beside it; plus the distribution summaries the predictions topic and
the dashboard show. Pure: the model has already run (`serving.predict` runs it, then calls
`quote`; the gateway runs a whole batch through `predict_many` first)."""

import math
from dataclasses import dataclass

from statmuse_shared.contract.messages import DistributionSummary, LineProbability, ModelPublished
from statmuse_shared.contract.stats import Stat
from statmuse_shared.models.distributions import (
    CountDistribution,
    line_probabilities,
    pmf,
    quantiles,
)
from statmuse_shared.models.output import Contribution, ModelOutput
from statmuse_shared.models.pricing import DEFAULT_AMERICAN_ODDS, Pricing, price


@dataclass(frozen=True, slots=True)
class Prediction:
    stat: Stat
    line: float
    predicted_value: float
    over_probability: float
    under_probability: float
    push_probability: float
    pricing: Pricing
    distribution: DistributionSummary
    dist: CountDistribution  # the model's output itself, for charts and more lines
    contributions: tuple[Contribution, ...]
    model_version: str
    fallback: str | None
    # P(over) from the model's distribution alone, and the weight the model's mean got against
    # the line (None: the model does not weigh the line; see `models.LineBlend`).
    model_over_probability: float
    line_weight: float | None


def quote(
    info: ModelPublished,
    output: ModelOutput,
    *,
    line: float,
    odds_over: int = DEFAULT_AMERICAN_ODDS,
    odds_under: int = DEFAULT_AMERICAN_ODDS,
) -> Prediction:
    """The prop at `line` from the output of the model `info` describes."""
    dist = output.distribution
    odds = output.line_odds(line)
    alone = odds if output.blend is None else line_probabilities(dist, line)
    return Prediction(
        stat=info.stat,
        line=line,
        predicted_value=dist.mean,
        over_probability=odds.over_probability,
        under_probability=odds.under_probability,
        push_probability=odds.push_probability,
        pricing=price(odds, odds_over=odds_over, odds_under=odds_under),
        distribution=summarise(dist),
        dist=dist,
        contributions=output.contributions,
        model_version=info.version,
        fallback=output.fallback,
        model_over_probability=alone.over_probability,
        line_weight=None if output.blend is None else output.blend[0],
    )


def summarise(dist: CountDistribution) -> DistributionSummary:
    return DistributionSummary(
        family=dist.family, mean=dist.mean, sd=dist.sd, quantiles=quantiles(dist)
    )


def nearby_lines(mean: float) -> list[float]:
    """Half-point lines around the mean, the way books set them."""
    centre = math.floor(mean) + 0.5
    return [max(0.5, centre - 1), max(0.5, centre), centre + 1]


def line_table(dist: CountDistribution) -> list[LineProbability]:
    """P(over/under/push) at the half-point lines around the mean."""
    out = []
    for line in dict.fromkeys(nearby_lines(dist.mean)):
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


def chart(dist: CountDistribution) -> list[tuple[int, float]]:
    """(value, probability) pairs covering the bulk of the distribution, for the dashboard."""
    lo = max(0, math.floor(dist.mean - 4 * dist.sd))
    hi = math.ceil(dist.mean + 4 * dist.sd)
    return list(zip(range(lo, hi + 1), pmf(dist, lo, hi), strict=True))
