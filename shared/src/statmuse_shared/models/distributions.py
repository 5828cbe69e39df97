"""Predictive distributions over a stat's whole-number values, and what a line is worth.

Every stat we predict is a count, so P(over), P(under) and P(push) at a line come from one
distribution on {0, 1, 2, ...}: under = P(X < line), push = P(X == line) for whole-number
lines, over = the rest. The three always sum to 1. Pure math (no scipy) so one prediction
stays well under a millisecond.
"""

import bisect
import math
from dataclasses import dataclass, field
from typing import Protocol

_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


class CountDistribution(Protocol):
    @property
    def family(self) -> str: ...

    @property
    def mean(self) -> float: ...

    @property
    def sd(self) -> float: ...

    def cdf(self, k: int) -> float:
        """P(X <= k) for a whole number k."""
        ...


def _normal_cdf(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


@dataclass(frozen=True, slots=True)
class DiscretizedNormal:
    """Normal(mu, sigma) rounded to the nearest whole number, mass below 0 folded onto 0."""

    mu: float
    sigma: float
    family: str = "normal"

    def __post_init__(self) -> None:
        if not self.sigma > 0 or not math.isfinite(self.mu):
            raise ValueError(f"invalid normal parameters mu={self.mu} sigma={self.sigma}")

    @property
    def mean(self) -> float:
        return self.mu

    @property
    def sd(self) -> float:
        return self.sigma

    def cdf(self, k: int) -> float:
        if k < 0:
            return 0.0
        return _normal_cdf((k + 0.5 - self.mu) / self.sigma)


@dataclass(frozen=True, slots=True)
class Poisson:
    lam: float
    family: str = "poisson"

    def __post_init__(self) -> None:
        if not self.lam > 0 or not math.isfinite(self.lam):
            raise ValueError(f"invalid poisson rate {self.lam}")

    @property
    def mean(self) -> float:
        return self.lam

    @property
    def sd(self) -> float:
        return math.sqrt(self.lam)

    def cdf(self, k: int) -> float:
        if k < 0:
            return 0.0
        if self.lam > 600:
            # exp(-lam) underflows past ~745: sum each term in log space instead.
            log_lam = math.log(self.lam)
            return min(
                1.0,
                math.fsum(
                    math.exp(i * log_lam - self.lam - math.lgamma(i + 1)) for i in range(k + 1)
                ),
            )
        term = math.exp(-self.lam)
        total = term
        for i in range(1, k + 1):
            term *= self.lam / i
            total += term
        return min(total, 1.0)


@dataclass(frozen=True, slots=True)
class NegativeBinomial:
    """Counts with more spread than Poisson: mean `mu`, variance mu + mu^2 / r.

    Rebounds, assists and threes vary more from game to game than a Poisson allows; r fitted
    per player and stat captures that (r -> infinity is Poisson)."""

    mu: float
    r: float
    family: str = "negative_binomial"

    def __post_init__(self) -> None:
        if not (self.mu > 0 and math.isfinite(self.mu) and self.r > 0 and math.isfinite(self.r)):
            raise ValueError(f"invalid negative binomial mu={self.mu} r={self.r}")

    @property
    def mean(self) -> float:
        return self.mu

    @property
    def sd(self) -> float:
        return math.sqrt(self.mu + self.mu * self.mu / self.r)

    def cdf(self, k: int) -> float:
        if k < 0:
            return 0.0
        p = self.r / (self.r + self.mu)
        # log P(X = 0) = r log p; then P(k+1) = P(k) (k + r) / (k + 1) (1 - p).
        term = math.exp(self.r * math.log(p))
        total = term
        for i in range(k):
            term *= (i + self.r) / (i + 1) * (1 - p)
            total += term
        return min(total, 1.0)


MAX_DISPERSION = 1e6  # beyond this the negative binomial is Poisson for every practical line


def fit_dispersion(values: list[float]) -> float:
    """Method-of-moments r from observed counts: mean^2 / (variance - mean); a sample with no
    extra-Poisson spread gets MAX_DISPERSION (Poisson)."""
    if len(values) < 2:
        raise ValueError("need at least two values to fit a dispersion")
    mean = math.fsum(values) / len(values)
    var = math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1)
    if mean <= 0 or var <= mean:
        return MAX_DISPERSION
    return min(mean * mean / (var - mean), MAX_DISPERSION)


@dataclass(frozen=True, slots=True)
class LineOdds:
    under_probability: float
    push_probability: float
    over_probability: float


def line_probabilities(dist: CountDistribution, line: float) -> LineOdds:
    """P(under), P(push), P(over) at a sportsbook line; they sum to 1."""
    if not math.isfinite(line) or line < 0:
        raise ValueError(f"line must be a non-negative number, got {line}")
    below = math.ceil(line) - 1  # largest whole number strictly under the line
    under = dist.cdf(below)
    push = dist.cdf(int(line)) - under if float(line).is_integer() else 0.0
    under = min(max(under, 0.0), 1.0)
    push = min(max(push, 0.0), 1.0 - under)
    return LineOdds(under, push, max(0.0, 1.0 - under - push))


def quantile(dist: CountDistribution, q: float) -> int:
    """Smallest whole number k with P(X <= k) >= q."""
    if isinstance(dist, Tabulated):  # a table: a binary search, no sums
        return min(bisect.bisect_left(dist.table, q), len(dist.table) - 1)
    k = max(0, int(dist.mean - 6 * dist.sd))
    while dist.cdf(k - 1) >= q and k > 0:
        k -= 1
    while dist.cdf(k) < q:
        k += 1
    return k


def quantiles(dist: CountDistribution) -> dict[str, float]:
    return {f"q{round(q * 100):02d}": float(quantile(dist, q)) for q in _QUANTILES}


def pmf(dist: CountDistribution, lo: int, hi: int) -> list[float]:
    """P(X = k) for k in [lo, hi] (for charts)."""
    return [dist.cdf(k) - dist.cdf(k - 1) for k in range(lo, hi + 1)]


@dataclass(frozen=True, slots=True)
class Tabulated:
    """A count distribution given by its CDF at 0, 1, ..., n-1 (P(X <= n-1) taken as 1).

    What a calibrated model serves: the model's distribution passed through a monotone
    recalibration map, so every line's over/under/push still comes from one CDF."""

    table: tuple[float, ...]
    family: str = "tabulated"
    # (mean, sd), summed once when first asked (a prediction asks for them several times).
    _moments: tuple[float, float] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        t = self.table
        if not t or any(b < a - 1e-12 for a, b in zip(t, t[1:], strict=False)):
            raise ValueError("a CDF table must be non-empty and non-decreasing")
        if t[0] < 0 or t[-1] > 1 + 1e-12:
            raise ValueError("CDF values must lie in [0, 1]")

    @classmethod
    def trusted(cls, table: tuple[float, ...]) -> "Tabulated":
        """Without the O(n) checks, for tables built monotone by construction (the model's
        hot path); anything else goes through the constructor."""
        obj = object.__new__(cls)
        object.__setattr__(obj, "table", table)
        object.__setattr__(obj, "family", "tabulated")
        object.__setattr__(obj, "_moments", None)
        return obj

    def _mean_sd(self) -> tuple[float, float]:
        moments = self._moments
        if moments is None:
            # E[X] = sum over k >= 0 of P(X > k); E[X^2] = sum of (2k + 1) P(X > k).
            above = [1.0 - c for c in self.table[:-1]]
            mean = math.fsum(above)
            second = math.fsum((2 * k + 1) * a for k, a in enumerate(above))
            moments = (mean, math.sqrt(max(second - mean * mean, 1e-12)))
            object.__setattr__(self, "_moments", moments)
        return moments

    @property
    def mean(self) -> float:
        return self._mean_sd()[0]

    @property
    def sd(self) -> float:
        return self._mean_sd()[1]

    def cdf(self, k: int) -> float:
        if k < 0:
            return 0.0
        if k >= len(self.table) - 1:
            return 1.0
        return self.table[k]


def tabulate(dist: NegativeBinomial, *, tail: float = 1e-12) -> Tabulated:
    """The negative binomial as a CDF table (one pass of the pmf recurrence), so its
    quantiles, chart and line odds cost a lookup each instead of a sum. Same numbers, same
    family name."""
    p = dist.r / (dist.r + dist.mu)
    term = math.exp(dist.r * math.log(p))
    total = term
    table = [min(total, 1.0)]
    k = 0
    limit = dist.mu + 60 * dist.sd + 100
    while total < 1.0 - tail and k < limit:
        term *= (k + dist.r) / (k + 1) * (1 - p)
        total += term
        k += 1
        table.append(min(total, 1.0))
    table.append(1.0)
    out = Tabulated.trusted(tuple(table))
    object.__setattr__(out, "family", dist.family)
    return out
