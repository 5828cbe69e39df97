"""Evaluation on a season the model never saw: point baselines (season average, last 10, EWMA)
and the books' own de-vigged probabilities on the real lines, with bootstrap intervals.

A model is worth something only if it beats these: MAE/RMSE against the baselines, and Brier
score / log loss of P(over) against the books on the same games.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from statmuse_trainer.lines import PropLine

if TYPE_CHECKING:
    from statmuse_shared.models.count import CountModel

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
        rows.append(
            {
                "stat": stat,
                "predictor": name,
                "mae": bootstrap(errors, _mae, rounds=rounds),
                "rmse": bootstrap(errors, _rmse, rounds=rounds),
            }
        )
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
    outcome: dict[tuple[int, object], float] = dict(
        zip(
            zip(
                test["player_id"].astype(int).tolist(),
                test["game_date"].dt.date.tolist(),
                strict=True,
            ),
            test[f"label_{stat}"].astype(float).tolist(),
            strict=True,
        )
    )
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
    return {
        "brier": bootstrap(pairs, brier, rounds=rounds),
        "log_loss": bootstrap(pairs, log_loss, rounds=rounds),
    }


# --- our served models on a held-out season ------------------------------------------------


def ece_of(pairs: np.ndarray) -> float:
    """ECE of (probability, outcome) pairs, the shape `bootstrap` resamples."""
    from statmuse_trainer.modeling import ece

    return ece(pairs[:, 0], pairs[:, 1])


def served_means(
    model: "CountModel", test: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray, list[str | None]]:
    """The served mean, dispersion and fallback flag for every row (vectorised path of the
    exact bundle the predictor loads)."""
    x = test[[f"f_{c}" for c in model.header.features]].to_numpy(np.float64)
    return model.means(x, [int(p) for p in test["player_id"]])


def line_odds(
    model: "CountModel",
    mu: np.ndarray,
    r: np.ndarray,
    lines: np.ndarray,
    *,
    calibrated: bool,
    use_line: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(under, push, over) at each row's line from NB(mu, r), through the model's isotonic
    map when `calibrated`. With `use_line` and a model that weighs sportsbook lines
    (`LineBlend`), from NB(blend centre, r) instead: what `serving.predict` gives at a book's
    line. Either way the same numbers `serving.predict` gives one row at a time."""
    blend = model.header.line_blend if use_line else None
    if blend is not None:
        return nb_line_odds(blend.centre(mu, lines), r, lines)
    if calibrated and model.cal_x is not None and model.cal_y is not None:
        return nb_line_odds(mu, r, lines, calibration=(model.cal_x, model.cal_y))
    return nb_line_odds(mu, r, lines)


def nb_line_odds(
    mu: np.ndarray,
    r: np.ndarray,
    lines: np.ndarray,
    *,
    calibration: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(under, push, over) at each line from NB(mu, phi=r), its CDF passed through the
    isotonic `calibration` knots when given."""
    from statmuse_trainer.modeling import nb_cdf

    def cdf(k: np.ndarray) -> np.ndarray:
        f = nb_cdf(k, mu, r)
        if calibration is not None:
            f = np.where(k < 0, 0.0, np.interp(f, *calibration))
        return f

    under = cdf(np.ceil(lines) - 1)
    at_or_below = cdf(np.floor(lines))
    push = np.where(lines == np.floor(lines), at_or_below - under, 0.0)
    return under, push, 1.0 - under - push


def given_no_push(under: np.ndarray, over: np.ndarray) -> np.ndarray:
    """P(over | the bet is decided): how the books' de-vigged price is stated."""
    return np.asarray(over / np.maximum(over + under, 1e-12), dtype=np.float64)


def model_vs_baselines(
    test: pd.DataFrame, stat: str, mu: np.ndarray, *, rounds: int = 1000
) -> pd.DataFrame:
    """MAE and RMSE of the served mean and of each baseline, on the same rows: those where
    the label and every baseline exist."""
    label = test[f"label_{stat}"]
    ok = label.notna()
    for feature in BASELINES.values():
        ok &= test[f"f_{stat}_{feature}"].notna()
    y = label[ok].to_numpy()
    preds = {"model": mu[ok.to_numpy()]} | {
        name: test.loc[ok, f"f_{stat}_{feature}"].to_numpy() for name, feature in BASELINES.items()
    }
    return pd.DataFrame(
        [
            {
                "stat": stat,
                "predictor": name,
                "mae": bootstrap(y - p, _mae, rounds=rounds),
                "rmse": bootstrap(y - p, _rmse, rounds=rounds),
            }
            for name, p in preds.items()
        ]
    )


@dataclass(frozen=True, slots=True)
class LineRows:
    """Real lines joined to test rows: row index, line, books' fair P(over), outcome."""

    row: np.ndarray
    line: np.ndarray
    books: np.ndarray
    went_over: np.ndarray
    bookmaker: np.ndarray


def join_lines(test: pd.DataFrame, lines: Sequence[tuple[int, PropLine]], stat: str) -> LineRows:
    """Every real line of `stat` on a test game; pushes are left out (neither side wins)."""
    index = {
        (int(p), d): i
        for i, (p, d) in enumerate(zip(test["player_id"], test["game_date"].dt.date, strict=True))
    }
    labels = test[f"label_{stat}"].to_numpy(np.float64)
    rows, values, books, over, makers = [], [], [], [], []
    for player_id, line in lines:
        if line.market != stat:
            continue
        i = index.get((player_id, line.game_date))
        if i is None or math.isnan(labels[i]) or labels[i] == line.line:
            continue
        rows.append(i)
        values.append(line.line)
        books.append(line.fair_over)
        over.append(float(labels[i] > line.line))
        makers.append(line.bookmaker)
    return LineRows(
        np.array(rows, dtype=int),
        np.array(values, dtype=float),
        np.array(books, dtype=float),
        np.array(over, dtype=float),
        np.array(makers, dtype=object),
    )


def _paired_gap(ours: np.ndarray, books: np.ndarray, y: np.ndarray, rounds: int) -> Estimate:
    """Our Brier minus the books' on the same lines, with a paired bootstrap interval
    (negative: we are better)."""
    stacked = np.stack([ours, books, y], axis=1)
    return bootstrap(stacked, lambda s: brier(s[:, [0, 2]]) - brier(s[:, [1, 2]]), rounds=rounds)


def lines_table(
    joined: LineRows,
    probabilities: dict[str, np.ndarray],
    stat: str,
    *,
    rounds: int = 1000,
) -> pd.DataFrame:
    """Brier, log loss and ECE of each P(over) on the real lines, with bootstrap intervals,
    and each one's Brier gap to the books' de-vigged P(over)."""
    out = []
    for name, p in {**probabilities, "books_devigged": joined.books}.items():
        pairs = np.stack([p, joined.went_over], axis=1)
        gap = (
            _paired_gap(p, joined.books, joined.went_over, rounds)
            if name != "books_devigged"
            else None
        )
        out.append(
            {
                "stat": stat,
                "predictor": name,
                "lines": len(p),
                "brier": bootstrap(pairs, brier, rounds=rounds),
                "log_loss": bootstrap(pairs, log_loss, rounds=rounds),
                "ece": bootstrap(pairs, ece_of, rounds=rounds),
                "brier_gap_vs_books": gap,
            }
        )
    return pd.DataFrame(out)
