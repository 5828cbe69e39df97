"""The candidates for a stat's pooled model and how they are chosen: ElasticNet, random forest
and XGBoost, each searched over a small grid, a voting and a stacking ensemble of the three.
Pure: frames and arrays in, fitted candidates and their scores out (no I/O).

What is optimised is the quality of P(over), not accuracy: every candidate is scored by the
Brier score of P(over) on the validation season at the *reference line* of each game, the
half-point line just above the player's last-10 mean (floor(mean) + 0.5). That is where books
put their lines; the real lines (2023-24 only) stay untouched for the test.
"""

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from statmuse_trainer import scoring
from statmuse_trainer.training.negbin import fit_dispersion_mle, over_probability
from statmuse_trainer.training.stat_data import StatData


@dataclass(frozen=True, slots=True)
class Scores:
    brier: float
    log_loss: float
    mae: float
    rmse: float
    dispersion: float

    def as_dict(self) -> dict[str, float]:
        return {
            "brier": self.brier,
            "log_loss": self.log_loss,
            "mae": self.mae,
            "rmse": self.rmse,
            "dispersion": self.dispersion,
        }


def score(
    y: np.ndarray, mu: np.ndarray, lines: np.ndarray, dispersion: float | None = None
) -> Scores:
    """P(over) quality at the given lines (pushes cannot happen at half-point lines)."""
    mu = np.maximum(mu, 0.05)
    phi = fit_dispersion_mle(y, mu) if dispersion is None else dispersion
    p = over_probability(mu, phi, lines)
    went_over = (y > lines).astype(float)
    return Scores(
        scoring.brier(p, went_over),
        scoring.log_loss(p, went_over),
        scoring.mae(y - mu),
        scoring.rmse(y - mu),
        phi,
    )


@dataclass
class Candidate:
    name: str  # elasticnet | random_forest | xgboost | voting | stacking
    params: dict[str, Any]
    validation_pred: np.ndarray
    scores: Scores
    model: Any = None
    fit_seconds: float = 0.0
    trials: list[dict[str, Any]] = field(default_factory=list)


# Small grids: every fit is on ~130k rows, and the whole run has a 15-minute budget on two
# cores. The forest subsamples rows (max_samples) to stay inside it.
SEARCH: dict[str, list[dict[str, Any]]] = {
    "elasticnet": [{"alpha": a, "l1_ratio": 0.5} for a in (0.003, 0.03, 0.3)],
    "random_forest": [
        {
            "n_estimators": 80,
            "max_depth": d,
            "min_samples_leaf": leaf,
            "max_features": 0.3,
            "max_samples": 0.25,
        }
        for d, leaf in ((10, 40), (14, 20))
    ],
    "xgboost": [
        {
            "max_depth": d,
            "min_child_weight": mcw,
            "learning_rate": 0.08,
            "subsample": 0.8,
            "colsample_bytree": 0.6,
            "reg_lambda": 1.0,
        }
        for d, mcw in ((4, 20), (6, 50))
    ],
}


def fit_elasticnet(x: np.ndarray, y: np.ndarray, params: dict[str, Any]) -> Any:
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import ElasticNet
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    pipe = Pipeline(
        [
            ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
            ("scale", StandardScaler()),
            ("model", ElasticNet(max_iter=5000, tol=1e-4, precompute=True, **params)),
        ]
    )
    return pipe.fit(x, y)


def _fit_forest(x: np.ndarray, y: np.ndarray, params: dict[str, Any], jobs: int) -> Any:
    from sklearn.ensemble import RandomForestRegressor

    return RandomForestRegressor(n_jobs=jobs, random_state=7, **params).fit(x, y)


def _fit_xgboost(
    x: np.ndarray,
    y: np.ndarray,
    xv: np.ndarray,
    yv: np.ndarray,
    params: dict[str, Any],
    jobs: int,
) -> Any:
    import xgboost as xgb

    model = xgb.XGBRegressor(
        n_estimators=3000,
        early_stopping_rounds=50,
        tree_method="hist",
        n_jobs=jobs,
        random_state=7,
        objective="reg:squarederror",
        eval_metric="rmse",
        **params,
    )
    return model.fit(x, y, eval_set=[(xv, yv)], verbose=False)


def search(
    data: StatData, family: str, *, jobs: int, tick: Callable[[str], None] = lambda _: None
) -> Candidate:
    """Every configuration of one family, scored on validation; the best one wins."""
    import time

    x, y = data.x("train"), data.y("train")
    xv, yv, lines = data.x("validation"), data.y("validation"), data.lines("validation")
    best: Candidate | None = None
    trials = []
    for params in SEARCH[family]:
        t0 = time.perf_counter()
        if family == "elasticnet":
            model = fit_elasticnet(x, y, params)
        elif family == "random_forest":
            model = _fit_forest(x, y, params, jobs)
        else:
            model = _fit_xgboost(x, y, xv, yv, params, jobs)
        seconds = time.perf_counter() - t0
        pred = model.predict(xv).astype(np.float64)
        s = score(yv, pred, lines)
        extra = {"best_iteration": int(model.best_iteration)} if family == "xgboost" else {}
        trials.append(
            {"family": family, **params, **extra, **s.as_dict(), "fit_seconds": round(seconds, 2)}
        )
        tick(f"{data.stat} {family} {params}: brier {s.brier:.4f}")
        if best is None or s.brier < best.scores.brier:
            best = Candidate(family, {**params, **extra}, pred, s, model, seconds)
    assert best is not None
    best.trials = trials
    return best


# A part must buy at least this much validation Brier to be served: each part is another walk
# through its trees for every answer. Measured on points (2022-23 validation): the three-part
# vote (random forest 5%) scored 0.00009 better than XGBoost alone, and the forest's walk took
# about 6 of a 300-row slate's 20 ms.
PARSIMONY_BRIER = 1e-4


def vote(data: StatData, parts: Sequence[Candidate], step: float = 0.05) -> Candidate:
    """A weighted average of the parts; weights start at 0.4/0.4/0.2 and are chosen on the
    simplex grid (step 0.05) by validation Brier score, preferring fewer parts when they
    score within PARSIMONY_BRIER of the best."""
    yv, lines = data.y("validation"), data.lines("validation")
    preds = np.stack([c.validation_pred for c in parts], axis=1)
    start = np.array([0.4, 0.4, 0.2][: len(parts)])
    start = start / start.sum()
    start_s = score(yv, preds @ start, lines)
    # the best weights for each number of parts used (the start uses them all)
    best: dict[int, tuple[float, np.ndarray]] = {len(parts): (start_s.brier, start)}
    n = round(1 / step)
    for combo in itertools.product(range(n + 1), repeat=len(parts) - 1):
        if sum(combo) > n:
            continue
        w = np.array([*combo, n - sum(combo)], dtype=float) / n
        s = score(yv, preds @ w, lines, dispersion=start_s.dispersion)
        used = int(np.count_nonzero(w))
        if used not in best or s.brier < best[used][0]:
            best[used] = (s.brier, w)
    lowest = min(b for b, _ in best.values())
    used = min(k for k, (b, _) in best.items() if b <= lowest + PARSIMONY_BRIER)
    best_w = best[used][1]
    best_s = score(yv, preds @ best_w, lines)
    params = {"weights": [round(float(v), 4) for v in best_w], "parts": [c.name for c in parts]}
    return Candidate("voting", params, preds @ best_w, best_s)


def stack(data: StatData, parts: Sequence[Candidate], folds: int = 5) -> Candidate:
    """A ridge meta-learner over the parts' validation predictions. Its score is out of fold
    (folds are blocks of consecutive days), so it is judged on games it did not fit."""
    from sklearn.linear_model import Ridge

    yv, lines = data.y("validation"), data.lines("validation")
    preds = np.stack([c.validation_pred for c in parts], axis=1)
    dates = data.validation["game_date"].to_numpy()
    order = np.argsort(dates, kind="stable")
    oof = np.empty_like(yv)
    for block in np.array_split(order, folds):
        fit_rows = np.setdiff1d(order, block)
        oof[block] = Ridge(alpha=1.0).fit(preds[fit_rows], yv[fit_rows]).predict(preds[block])
    meta = Ridge(alpha=1.0).fit(preds, yv)
    return Candidate(
        "stacking",
        {
            "coef": [round(float(c), 4) for c in meta.coef_],
            "intercept": round(float(meta.intercept_), 4),
            "parts": [c.name for c in parts],
        },
        oof,
        score(yv, oof, lines),
        meta,
    )
