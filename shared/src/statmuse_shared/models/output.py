"""What a served model gives for one feature vector: a predictive distribution of the stat and
the features that drove it (`ModelOutput`), and the interface every model serves through."""

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from statmuse_shared.contract.stats import Stat
from statmuse_shared.models.distributions import (
    CountDistribution,
    LineOdds,
    NegativeBinomial,
    line_probabilities,
    tabulate,
)
from statmuse_shared.models.market import MarketLayer, centre_for_over, over_given_no_push

# How the distribution at a line was made: the market layer (the books' price and the model),
# the line blend (the line and the model's mean), or the model alone.
Method = Literal["market_layer", "line_blend", "model"]


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
    # Set by a model that weighs the books' de-vigged price with its own view (`MarketLayer`).
    market: MarketLayer | None = None

    def at_line(
        self, line: float, books_over: float | None = None
    ) -> tuple[CountDistribution, Method]:
        """The distribution P(over), P(under) and P(push) at a sportsbook's line come from,
        and how it was made; the chart draws the same one.

        - With the books' de-vigged P(over) at this line and a market layer: the negative
          binomial (the model's dispersion) whose P(over | no push) at the line is the layer's.
        - Else with a line blend: the negative binomial centred on
          w * mean + (1 - w) * (line + offset), so the line counts as the books' evidence
          about the player's game (see `LineBlend`).
        - Else the model's own distribution."""
        made, method = self._at_line(line, books_over)
        return (self.distribution if made is None else tabulate(made)), method

    def _at_line(
        self, line: float, books_over: float | None
    ) -> tuple[NegativeBinomial | None, Method]:
        """`at_line`'s negative binomial before it is tabulated (None: the model's own)."""
        if not math.isfinite(line) or line < 0:
            raise ValueError(f"line must be a non-negative number, got {line}")
        if self.blend is None and self.market is None:
            return None, "model"
        phi = self.dispersion
        if books_over is not None and self.market is not None:
            own = NegativeBinomial(max(self.mean, 0.05), max(self.mean, 0.05) / (phi - 1.0))
            target = self.market.over(books_over, over_given_no_push(own, line))
            centre = centre_for_over(target, line, phi, start=max(self.mean, line, 1.0))
            if centre is not None:
                return NegativeBinomial(centre, centre / (phi - 1.0)), "market_layer"
            # No negative binomial gives the layer's number here (a whole line of 0): the
            # line blend answers, as without a price.
        if self.blend is None:
            return None, "model"
        weight, offset = self.blend
        centre = max(weight * self.mean + (1.0 - weight) * (line + offset), 0.05)
        return NegativeBinomial(centre, centre / (phi - 1.0)), "line_blend"

    def line_odds(self, line: float, books_over: float | None = None) -> LineOdds:
        """P(under), P(push), P(over) at a sportsbook's line, from `at_line`'s distribution
        (its CDF up to the line only: the same sums as the table's, without the tail)."""
        made, _ = self._at_line(line, books_over)
        return line_probabilities(self.distribution if made is None else made, line)


class Model(Protocol):
    stat: Stat
    model_type: str

    def predict(
        self, features: Mapping[str, float | None], player_id: int | None = None
    ) -> ModelOutput: ...


log = logging.getLogger(__name__)


def predict_rows(
    model: Model, rows: Sequence[Mapping[str, float | None]], player_ids: Sequence[int | None]
) -> list[ModelOutput | Exception]:
    """Each row's ModelOutput, or the exception it raised: one vectorised call where the model
    has one (`CountModel.predict_many`: a batch costs little more than one row), else, or when
    that call fails (one bad row must not fail the others), row by row."""
    many = getattr(model, "predict_many", None)
    if many is not None and len(rows) > 1:
        try:
            return list(many(rows, player_ids))
        except Exception:
            log.warning("vectorised prediction failed; predicting row by row", exc_info=True)
    out: list[ModelOutput | Exception] = []
    for row, pid in zip(rows, player_ids, strict=True):
        try:
            out.append(model.predict(row, pid))
        except Exception as exc:
            out.append(exc)
    return out
