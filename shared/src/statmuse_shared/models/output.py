"""What a served model gives for one feature vector: a predictive distribution of the stat and
the features that drove it (`ModelOutput`), and the interface every model serves through."""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from statmuse_shared.contract.stats import Stat
from statmuse_shared.models.distributions import (
    CountDistribution,
    LineOdds,
    NegativeBinomial,
    line_probabilities,
)


class ModelInputError(ValueError):
    """The feature vector cannot feed this model (e.g. too little history)."""


@dataclass(frozen=True, slots=True)
class Contribution:
    feature: str
    value: float | None
    contribution: float


@dataclass(frozen=True, slots=True)
class ModelOutput:
    distribution: CountDistribution
    contributions: tuple[Contribution, ...]
    fallback: str | None = None
    # Set by a model that weighs a sportsbook's line against its own mean (`LineBlend`):
    # the raw negative binomial mean and dispersion (phi), and (weight, offset).
    mean: float = math.nan
    dispersion: float = math.nan
    blend: tuple[float, float] | None = None

    def line_odds(self, line: float) -> LineOdds:
        """P(under), P(push), P(over) at a sportsbook's line.

        Without a blend: from the model's own distribution. With one: from the negative
        binomial (the model's dispersion) centred on w * mean + (1 - w) * (line + offset), so
        the line counts as the books' evidence about the player's game (see `LineBlend`)."""
        if self.blend is None:
            return line_probabilities(self.distribution, line)
        if not math.isfinite(line) or line < 0:
            raise ValueError(f"line must be a non-negative number, got {line}")
        weight, offset = self.blend
        centre = max(weight * self.mean + (1.0 - weight) * (line + offset), 0.05)
        return line_probabilities(NegativeBinomial(centre, centre / (self.dispersion - 1.0)), line)


class Model(Protocol):
    stat: Stat
    model_type: str

    def predict(
        self, features: Mapping[str, float | None], player_id: int | None = None
    ) -> ModelOutput: ...
