"""Serving: the production models a process holds, and the pure `predict` function.

Predictor and gateway both serve models, so both use this. `ModelBook` follows
`nba.models.published.v1`; swapping a model replaces one dict entry, so a request that already
took the old model finishes with it and no request ever sees a half-loaded one.
"""

import logging
import math
from dataclasses import dataclass, field

from statmuse_shared.artifacts import ArtifactStore
from statmuse_shared.distributions import CountDistribution, line_probabilities, pmf, quantiles
from statmuse_shared.messages import DistributionSummary, LineProbability, ModelPublished
from statmuse_shared.models import Contribution, Model, load_model
from statmuse_shared.pricing import DEFAULT_AMERICAN_ODDS, Pricing, price
from statmuse_shared.stats import Stat

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Served:
    info: ModelPublished
    model: Model


@dataclass
class ModelBook:
    """Production model per serving key (`<stat>` or `<stat>:<player_id>`)."""

    store: ArtifactStore
    production: dict[str, Served] = field(default_factory=dict)
    known: dict[str, ModelPublished] = field(default_factory=dict)

    def apply(self, event: ModelPublished) -> bool:
        """Fold one event in; returns True when the production model for its key changed."""
        self.known[event.version] = event
        current = self.production.get(event.key)
        if event.alias != "production":
            return False
        if current is not None and current.info.version == event.version:
            return False
        data = self.store.get(event.artifact_uri, checksum=event.checksum)
        served = Served(event, load_model(data))
        self.production[event.key] = served  # atomic swap
        log.info("serving %s for %s", event.version, event.key)
        return True

    def for_stat(self, stat: Stat, player_id: int | None = None) -> Served | None:
        if player_id is not None and (hit := self.production.get(f"{stat.value}:{player_id}")):
            return hit
        return self.production.get(stat.value)


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


def predict(
    served: Served,
    features: dict[str, float | None],
    *,
    line: float,
    odds_over: int = DEFAULT_AMERICAN_ODDS,
    odds_under: int = DEFAULT_AMERICAN_ODDS,
) -> Prediction:
    output = served.model.predict(features)
    dist = output.distribution
    odds = line_probabilities(dist, line)
    return Prediction(
        stat=served.info.stat,
        line=line,
        predicted_value=dist.mean,
        over_probability=odds.over_probability,
        under_probability=odds.under_probability,
        push_probability=odds.push_probability,
        pricing=price(odds, odds_over=odds_over, odds_under=odds_under),
        distribution=summarise(dist),
        dist=dist,
        contributions=output.contributions,
        model_version=served.info.version,
        fallback=output.fallback,
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
