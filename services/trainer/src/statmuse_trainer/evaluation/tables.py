"""Evaluation on a season the model never saw: point baselines (season average, last 10, EWMA)
and the books' own de-vigged probabilities on the real lines, with bootstrap intervals.

A model is worth something only if it beats these: MAE/RMSE against the baselines, and Brier
score / log loss of P(over) against the books on the same games.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from statmuse_trainer.lines import LineRows, PropLine
from statmuse_trainer.scoring import (
    Estimate,
    bootstrap,
    mae,
    pair_brier,
    pair_ece,
    pair_log_loss,
    rmse,
)

BASELINES = {"season_average": "season_avg", "last_10": "sma_10", "ewma": "ema"}


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
                "mae": bootstrap(errors, mae, rounds=rounds),
                "rmse": bootstrap(errors, rmse, rounds=rounds),
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


def books_scores(priced: Sequence[Priced], *, rounds: int = 1000) -> dict[str, Estimate]:
    pairs = np.array([(p.probability, float(p.went_over)) for p in priced], dtype=float)
    if len(pairs) == 0:
        pairs = np.zeros((0, 2))
    return {
        "brier": bootstrap(pairs, pair_brier, rounds=rounds),
        "log_loss": bootstrap(pairs, pair_log_loss, rounds=rounds),
    }


# --- our served models on a held-out season ------------------------------------------------


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
                "mae": bootstrap(y - p, mae, rounds=rounds),
                "rmse": bootstrap(y - p, rmse, rounds=rounds),
            }
            for name, p in preds.items()
        ]
    )


def _paired_gap(ours: np.ndarray, books: np.ndarray, y: np.ndarray, rounds: int) -> Estimate:
    """Our Brier minus the books' on the same lines, with a paired bootstrap interval
    (negative: we are better)."""
    stacked = np.stack([ours, books, y], axis=1)
    return bootstrap(
        stacked, lambda s: pair_brier(s[:, [0, 2]]) - pair_brier(s[:, [1, 2]]), rounds=rounds
    )


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
                "brier": bootstrap(pairs, pair_brier, rounds=rounds),
                "log_loss": bootstrap(pairs, pair_log_loss, rounds=rounds),
                "ece": bootstrap(pairs, pair_ece, rounds=rounds),
                "brier_gap_vs_books": gap,
            }
        )
    return pd.DataFrame(out)
