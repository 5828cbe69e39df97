"""How good a probability or a mean was, in one place: training (choosing candidates, the
validation figures of a bundle), evaluation (the held-out season, the real lines), the
backtest (its intervals) and monitoring (the daily figures) all score with these.

Probabilities are scored against 0/1 outcomes: the Brier score, the log loss (P clipped to
[1e-12, 1 - 1e-12]) and the expected calibration error (ECE: the count-weighted gap between
mean P and frequency in equal-width bins, P = 1 in the top bin). Means are scored by MAE and
RMSE of their errors. `bootstrap` puts a percentile 95% interval around any of them.

Two ways to add up, and each caller keeps its own, so every figure already written stays the
same to the last bit: numpy's (pairwise summation over arrays; training, evaluation), and
`exact=True` (`math.fsum` over Python floats, exactly rounded), which the monitor's stored
daily figures use. The two can differ in the last bits of a long sum.
"""

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

Floats = npt.NDArray[np.float64]
Values = Floats | Sequence[float]
ECE_BINS = 10
LOG_LOSS_EPSILON = 1e-12


def _floats(values: Values) -> Floats:
    return np.asarray(values, dtype=np.float64)


def brier(p: Values, y: Values, *, exact: bool = False) -> float:
    """Mean squared gap between probability and outcome (0/1)."""
    if exact:
        ps, ys = _floats(p).tolist(), _floats(y).tolist()
        return math.fsum((a - b) ** 2 for a, b in zip(ps, ys, strict=True)) / len(ps)
    return float(np.mean((_floats(p) - _floats(y)) ** 2))


def log_loss(p: Values, y: Values, *, eps: float = LOG_LOSS_EPSILON) -> float:
    """Mean negative log likelihood of the outcomes, P clipped to [eps, 1 - eps]."""
    q, o = np.clip(_floats(p), eps, 1 - eps), _floats(y)
    return float(-np.mean(o * np.log(q) + (1 - o) * np.log(1 - q)))


def bin_index(p: Floats, bins: int = ECE_BINS) -> npt.NDArray[np.int_]:
    """The equal-width bin of each probability; P = 1 goes to the top bin."""
    idx: npt.NDArray[np.int_] = np.minimum((p * bins).astype(int), bins - 1)
    return idx


def _running_sum(values: Iterable[float]) -> float:
    total = 0.0
    for v in values:
        total += v
    return total


def _exact_mean(values: Floats) -> float:
    return math.fsum(values) / len(values)


def _numpy_mean(values: Floats) -> float:
    return float(values.mean())


def ece(p: Values, y: Values, bins: int = ECE_BINS, *, exact: bool = False) -> float:
    """Expected calibration error: the count-weighted gap between mean probability and
    frequency in `bins` equal-width bins."""
    probabilities, outcomes = _floats(p), _floats(y)
    idx = bin_index(probabilities, bins)
    mean = _exact_mean if exact else _numpy_mean
    gaps = [
        int(m.sum()) * abs(mean(probabilities[m]) - mean(outcomes[m]))
        for b in range(bins)
        if (m := idx == b).any()
    ]
    total = math.fsum(gaps) if exact else _running_sum(gaps)
    return total / max(len(probabilities), 1)


def reliability(p: Floats, y: Floats, bins: int = ECE_BINS) -> pd.DataFrame:
    """Per bin (as `ece` bins): mean probability, observed frequency and count."""
    idx = bin_index(p, bins)
    rows = [
        {
            "bin": b,
            "mean_p": float(p[idx == b].mean()),
            "freq": float(y[idx == b].mean()),
            "n": int((idx == b).sum()),
        }
        for b in range(bins)
        if (idx == b).any()
    ]
    return pd.DataFrame(rows)


def mae(errors: Floats) -> float:
    return float(np.mean(np.abs(errors)))


def rmse(errors: Floats) -> float:
    return float(np.sqrt(np.mean(errors**2)))


# --- (probability, outcome) rows: the shape `bootstrap` resamples ---------------------------


def of_pairs(score: Callable[[Floats, Floats], float]) -> Callable[[Floats], float]:
    """`score` of an (n, 2) array of (probability, outcome) rows."""

    def on_pairs(pairs: Floats) -> float:
        return score(pairs[:, 0], pairs[:, 1])

    return on_pairs


pair_brier = of_pairs(brier)
pair_log_loss = of_pairs(log_loss)
pair_ece = of_pairs(ece)


# --- intervals --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Estimate:
    value: float
    low: float
    high: float
    n: int

    def __str__(self) -> str:
        return f"{self.value:.4f} [{self.low:.4f}, {self.high:.4f}] (n={self.n})"


def bootstrap(
    values: Floats,
    statistic: Callable[[Floats], float],
    *,
    rounds: int = 1000,
    seed: int = 7,
) -> Estimate:
    """The statistic with a percentile bootstrap 95% interval (rows resampled)."""
    n = len(values)
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    rng = np.random.default_rng(seed)
    samples = [statistic(values[rng.integers(0, n, n)]) for _ in range(rounds)]
    low, high = np.percentile(samples, [2.5, 97.5])
    return Estimate(float(statistic(values)), float(low), float(high), n)
