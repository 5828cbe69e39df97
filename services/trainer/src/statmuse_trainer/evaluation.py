"""Evaluation on a season the model never saw: point baselines (season average, last 10, EWMA)
and the books' own de-vigged probabilities on the real lines, with bootstrap intervals.

A model is worth something only if it beats these: MAE/RMSE against the baselines, and Brier
score / log loss of P(over) against the books on the same games.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from statmuse_trainer.lines import PropLine

BASELINES = {"season_average": "season_avg", "last_10": "sma_10", "ewma": "ema"}


@dataclass(frozen=True, slots=True)
class Estimate:
    value: float
    low: float
    high: float
    n: int

    def __str__(self) -> str:
        return f"{self.value:.4f} [{self.low:.4f}, {self.high:.4f}] (n={self.n})"


def bootstrap(
    values: np.ndarray,
    statistic: Callable[[np.ndarray], float],
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


def _mae(errors: np.ndarray) -> float:
    return float(np.mean(np.abs(errors)))


def _rmse(errors: np.ndarray) -> float:
    return float(np.sqrt(np.mean(errors**2)))


def baseline_table(test: pd.DataFrame, stat: str, *, rounds: int = 1000) -> pd.DataFrame:
    """MAE and RMSE of each baseline on the rows where both it and the label exist."""
    rows = []
    for name, feature in BASELINES.items():
        pred, label = test[f"f_{stat}_{feature}"], test[f"label_{stat}"]
        ok = pred.notna() & label.notna()
        errors = (label[ok] - pred[ok]).to_numpy()
        rows.append({"stat": stat, "predictor": name,
                     "mae": bootstrap(errors, _mae, rounds=rounds),
                     "rmse": bootstrap(errors, _rmse, rounds=rounds)})  # fmt: skip
    return pd.DataFrame(rows)


@dataclass(frozen=True, slots=True)
class Priced:
    """One real line on a game in the test set: the books' fair P(over) and what happened."""

    probability: float
    went_over: bool


def priced_lines(
    test: pd.DataFrame, lines: Sequence[tuple[int, PropLine]], stat: str
) -> list[Priced]:
    """Lines of `stat` joined to test rows on (player, game date); pushes are left out."""
    outcome: dict[tuple[int, object], float] = dict(zip(
        zip(test["player_id"].astype(int).tolist(), test["game_date"].dt.date.tolist(),
            strict=True),
        test[f"label_{stat}"].astype(float).tolist(), strict=True))  # fmt: skip
    out = []
    for player_id, line in lines:
        if line.market != stat:
            continue
        actual = outcome.get((player_id, line.game_date))
        if actual is None or math.isnan(actual) or actual == line.line:
            continue
        out.append(Priced(line.fair_over, bool(actual > line.line)))
    return out


def brier(pairs: np.ndarray) -> float:
    return float(np.mean((pairs[:, 0] - pairs[:, 1]) ** 2))


def log_loss(pairs: np.ndarray) -> float:
    p = np.clip(pairs[:, 0], 1e-12, 1 - 1e-12)
    y = pairs[:, 1]
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def books_scores(priced: Sequence[Priced], *, rounds: int = 1000) -> dict[str, Estimate]:
    pairs = np.array([(p.probability, float(p.went_over)) for p in priced], dtype=float)
    if len(pairs) == 0:
        pairs = np.zeros((0, 2))
    return {"brier": bootstrap(pairs, brier, rounds=rounds),
            "log_loss": bootstrap(pairs, log_loss, rounds=rounds)}  # fmt: skip
