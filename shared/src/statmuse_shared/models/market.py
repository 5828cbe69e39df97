"""The market-aware layer: P(over) at a sportsbook's line from the books' own de-vigged price
and the model's distribution together, and the one distribution that answer comes from.

A price carries what the books know and the box scores do not (injuries, minutes, lineups,
news of the day); the model carries what the box scores say. `MarketLayer` is a logistic
regression of the outcome on logit(books' P(over)) and logit(the model's own P(over) at the
line), fitted on real lines of days before a cutoff (`statmuse-trainer fit-market`): it learns how
far, and in which direction, the price is wrong where the model disagrees with it, and the
books' known bias (de-vigged overs are a little too likely). A bundle carries a layer only
where, scored on the lines of later days, it beat the `LineBlend`.

The layer gives a number, not a distribution. `centre_for_over` turns it into one: the
negative binomial with the model's dispersion whose P(over | no push) at the line is that
number. The headline, the push probability and the chart all come from it. Where no such
negative binomial exists (a whole line of 0; a P(over) below what the smallest mean gives at
a low line), the line blend answers instead.
"""

import datetime as dt
import math

from pydantic import BaseModel, Field

from statmuse_shared.models.distributions import NegativeBinomial

LOGIT_EDGE = 1e-6  # probabilities are clipped to [LOGIT_EDGE, 1 - LOGIT_EDGE] before logit
MIN_CENTRE, MAX_CENTRE = 0.05, 1e5  # the means the solve may answer with
PINNED = 1e-6  # logit distance from the target beyond which the smallest mean cannot give it


def logit(p: float) -> float:
    p = min(max(p, LOGIT_EDGE), 1.0 - LOGIT_EDGE)
    return math.log(p / (1.0 - p))


def expit(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


class LayerScore(BaseModel):
    """Out-of-sample Brier on the same lines, of days after both the layer and the line blend
    were fitted: the layer's, the line blend's and the books'."""

    first_day: dt.date
    last_day: dt.date
    lines: int = Field(ge=0)
    brier: float
    brier_line_blend: float
    brier_books: float


class MarketLayer(BaseModel):
    """P(over | no push) = expit(intercept + book_weight * logit(books' de-vigged P(over))
    + model_weight * logit(the model's own P(over | no push) at the line))."""

    intercept: float = Field(examples=[-0.056])
    book_weight: float = Field(examples=[0.915])
    model_weight: float = Field(examples=[0.108])
    first_day: dt.date = Field(description="First game day of the lines it was fitted on")
    last_day: dt.date = Field(description="Last game day of the lines it was fitted on")
    lines: int = Field(ge=1, description="How many real lines it was fitted on")
    out_of_sample: LayerScore = Field(
        description="This stat's score on the lines of later days than it was fitted on"
    )
    min_edge: float | None = Field(
        default=None,
        description="Recommend a bet only from this edge (our P(over) minus the books', "
        "either way) up: the smallest edge whose bets won money out of sample with an "
        "interval above zero. None: no edge had that record, so every answer is PASS",
    )

    def over(self, books: float, model: float) -> float:
        return expit(
            self.intercept + self.book_weight * logit(books) + self.model_weight * logit(model)
        )

    def recommends(self, edge: float | None) -> bool:
        """Whether a bet at this edge (our P(over | no push) minus the books') has an
        out-of-sample record to stand on: never without `min_edge`."""
        return self.min_edge is not None and edge is not None and abs(edge) >= self.min_edge


def over_given_no_push(dist: NegativeBinomial, line: float) -> float:
    """P(over) / (P(over) + P(under)) at `line`: one pass of the pmf recurrence up to it."""
    top = math.floor(line)
    p = dist.r / (dist.r + dist.mu)
    term = math.exp(dist.r * math.log(p))  # P(X = 0)
    at_or_below = term
    for i in range(top):
        term *= (i + dist.r) / (i + 1) * (1 - p)
        at_or_below += term
    at_or_below = min(at_or_below, 1.0)
    # A whole line pushes on P(X = line): under is what lies strictly below it.
    under = at_or_below - term if float(line).is_integer() else at_or_below
    over = 1.0 - at_or_below
    return over / max(over + under, 1e-300)


def centre_for_over(target: float, line: float, dispersion: float, *, start: float) -> float | None:
    """The mean c of NB(c, variance dispersion * c) whose P(over | no push) at `line` is
    `target` (P(over) grows with c). Illinois regula falsi on the logit scale, bracketed:
    a few cdf evaluations, well under a millisecond. None when no mean in [MIN_CENTRE,
    MAX_CENTRE] gives it (a whole line of 0, where nothing lands under; a P(over) below what
    the smallest mean gives at a low line): the caller answers another way."""
    if not 0.0 < target < 1.0 or not math.isfinite(line) or line < 0:
        raise ValueError(f"cannot centre on P(over)={target} at line {line}")
    if not dispersion > 1.0:
        raise ValueError(f"dispersion must exceed 1, got {dispersion}")
    goal = logit(target)

    def gap(c: float) -> float:
        return logit(over_given_no_push(NegativeBinomial(c, c / (dispersion - 1.0)), line)) - goal

    lo, hi = MIN_CENTRE, max(start, line, 1.0)
    f_lo, f_hi = gap(lo), gap(hi)
    if f_lo >= 0:
        return None if f_lo > PINNED else lo
    while f_hi < 0:  # grow the bracket until the over is likely enough
        lo, f_lo = hi, f_hi
        hi *= 2.0
        if hi > MAX_CENTRE:
            return None
        f_hi = gap(hi)
    side = 0
    c = hi
    for _ in range(60):
        c = hi - f_hi * (hi - lo) / (f_hi - f_lo)
        f_c = gap(c)
        if abs(f_c) < 1e-9 or hi - lo < 1e-9:
            break
        if f_c > 0:
            hi, f_hi = c, f_c
            if side == 1:
                f_lo /= 2.0
            side = 1
        else:
            lo, f_lo = c, f_c
            if side == -1:
                f_hi /= 2.0
            side = -1
    return c
