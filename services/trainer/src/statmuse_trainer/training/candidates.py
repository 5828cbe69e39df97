"""The candidates for a stat's pooled model and how they are chosen: ElasticNet and XGBoost
searched by Optuna, a random forest over a two-point grid, a voting and a stacking ensemble of
the three.
Pure: frames and arrays in, fitted candidates and their scores out (no I/O).

What is optimised is the quality of P(over), not accuracy: every candidate is scored by the
Brier score of P(over) on the validation season at the *reference line* of each game, the
half-point line just above the player's last-10 mean (floor(mean) + 0.5). That is where books
put their lines; the real lines (2023-24 only) stay untouched for the test.
"""

import itertools
import warnings
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


# The forest keeps a two-point grid: a fit is 20-50 s on ~130k rows and gives nothing to prune
# on part-way. XGBoost and ElasticNet are searched by Optuna (below). The whole run has a
# 15-minute budget on two cores; the forest subsamples rows (max_samples) to stay inside it.
SEARCH: dict[str, list[dict[str, Any]]] = {
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
}

# Optuna's studies: a seeded TPE sampler (the same dataset gives the same trials) that starts
# from the configurations of the old fixed grid (so the search can only add to it), and for
# XGBoost a median pruner on the validation loss every PRUNE_EVERY boosting rounds. Each
# trial's objective is the validation Brier score of P(over) at the reference lines. The
# learning rate stays fixed: early stopping finds the rounds for it, and a median pruner that
# compares trials at the same round would stop every slower-learning trial early.
XGBOOST_TRIALS = 6
LEARNING_RATE = 0.08
# The boosted trees fit a Poisson likelihood (a log link: the mean is exp of the trees' sum),
# not squared error: counts' variance grows with their mean, and squared error lets the
# high-mean games drive every split. Early stopping and pruning watch the same likelihood.
XGBOOST_OBJECTIVE = "count:poisson"
XGBOOST_METRIC = "poisson-nloglik"
ELASTICNET_TRIALS = 6
PRUNE_EVERY = 25
SEED = 7
XGBOOST_START: list[dict[str, Any]] = [
    {
        "max_depth": d,
        "min_child_weight": float(mcw),
        "learning_rate": LEARNING_RATE,
        "subsample": 0.8,
        "colsample_bytree": 0.6,
        "reg_lambda": 1.0,
    }
    for d, mcw in ((4, 20), (6, 50))
]
ELASTICNET_START: list[dict[str, Any]] = [{"alpha": 0.003, "l1_ratio": 0.5}]
# The light search (stats without bundled lines: steals, blocks, turnovers and the sums of
# two) fits one configuration of each: the grid's first XGBoost at twice the learning rate
# (half the rounds), and the ElasticNet start.
LIGHT: dict[str, dict[str, Any]] = {
    "xgboost": {**XGBOOST_START[0], "learning_rate": 2 * LEARNING_RATE},
    "elasticnet": ELASTICNET_START[0],
}


def fit_light(
    data: StatData, family: str, *, jobs: int, tick: Callable[[str], None] = lambda _: None
) -> Candidate:
    """The light search's one configuration of a family, fitted and scored on validation."""
    candidate, row = fit_and_score(data, family, LIGHT[family], jobs=jobs)
    candidate.trials = [{**row, "pruned": False}]
    tick(f"{data.stat} {family} (light): brier {candidate.scores.brier:.4f}")
    return candidate


def _xgboost_space(trial: Any) -> dict[str, Any]:
    return {
        "max_depth": trial.suggest_int("max_depth", 3, 8),
        "min_child_weight": trial.suggest_float("min_child_weight", 5.0, 200.0, log=True),
        "learning_rate": LEARNING_RATE,
        "subsample": trial.suggest_float("subsample", 0.6, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.3, 0.9),
        "reg_lambda": trial.suggest_float("reg_lambda", 0.1, 20.0, log=True),
    }


def _elasticnet_space(trial: Any) -> dict[str, Any]:
    return {
        "alpha": trial.suggest_float("alpha", 1e-3, 1.0, log=True),
        "l1_ratio": trial.suggest_float("l1_ratio", 0.05, 1.0),
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
    callbacks: Sequence[Any] = (),
) -> Any:
    import xgboost as xgb

    model = xgb.XGBRegressor(
        n_estimators=3000,
        early_stopping_rounds=50,
        tree_method="hist",
        n_jobs=jobs,
        random_state=7,
        objective=XGBOOST_OBJECTIVE,
        eval_metric=XGBOOST_METRIC,
        callbacks=list(callbacks) or None,
        **params,
    )
    return model.fit(x, y, eval_set=[(xv, yv)], verbose=False)


def _pruning(trial: Any) -> Any:
    """An XGBoost callback that reports the validation loss (XGBOOST_METRIC) to the trial
    every PRUNE_EVERY rounds and stops a trial the median pruner gives up on."""
    import optuna
    import xgboost as xgb

    class Pruning(xgb.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:  # noqa: ARG002
            if epoch % PRUNE_EVERY == 0:
                trial.report(float(evals_log["validation_0"][XGBOOST_METRIC][-1]), epoch)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"pruned at round {epoch}")
            return False

    return Pruning()


def search(
    data: StatData, family: str, *, jobs: int, tick: Callable[[str], None] = lambda _: None
) -> Candidate:
    """One family's configurations scored on validation; the best one wins. The forest walks
    its grid, XGBoost and ElasticNet an Optuna study."""
    if family == "random_forest":
        return _walk_grid(data, family, jobs=jobs, tick=tick)
    return _study(data, family, jobs=jobs, tick=tick)


def fit_and_score(
    data: StatData,
    family: str,
    params: dict[str, Any],
    *,
    jobs: int,
    callbacks: Sequence[Any] = (),
) -> tuple[Candidate, dict[str, Any]]:
    """One configuration fitted on the training rows and scored on validation, with its row
    for the trials report."""
    import time

    x, y = data.x("train"), data.y("train")
    xv, yv, lines = data.x("validation"), data.y("validation"), data.lines("validation")
    t0 = time.perf_counter()
    if family == "elasticnet":
        # The study tries small penalties that coordinate descent cannot finish in its
        # iterations; the validation score judges such a fit like any other, so the warning
        # would only bury the progress lines.
        from sklearn.exceptions import ConvergenceWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = fit_elasticnet(x, y, params)
    elif family == "random_forest":
        model = _fit_forest(x, y, params, jobs)
    else:
        model = _fit_xgboost(x, y, xv, yv, params, jobs, callbacks)
    seconds = time.perf_counter() - t0
    pred = model.predict(xv).astype(np.float64)
    s = score(yv, pred, lines)
    extra = {"best_iteration": int(model.best_iteration)} if family == "xgboost" else {}
    row = {
        "family": family,
        **params,
        **extra,
        **s.as_dict(),
        "fit_seconds": round(seconds, 2),
        "features": len(data.columns),
    }
    return Candidate(family, {**params, **extra}, pred, s, model, seconds), row


def _walk_grid(data: StatData, family: str, *, jobs: int, tick: Callable[[str], None]) -> Candidate:
    best: Candidate | None = None
    trials = []
    for params in SEARCH[family]:
        candidate, row = fit_and_score(data, family, params, jobs=jobs)
        trials.append(row)
        tick(f"{data.stat} {family} {params}: brier {candidate.scores.brier:.4f}")
        if best is None or candidate.scores.brier < best.scores.brier:
            best = candidate
    assert best is not None
    best.trials = trials
    return best


def _study(data: StatData, family: str, *, jobs: int, tick: Callable[[str], None]) -> Candidate:
    """An Optuna study over the family's space, minimising the validation Brier score."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    xgb = family == "xgboost"
    study = optuna.create_study(
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=SEED),
        pruner=(
            optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=4 * PRUNE_EVERY)
            if xgb
            else optuna.pruners.NopPruner()
        ),
    )
    for start in XGBOOST_START if xgb else ELASTICNET_START:
        study.enqueue_trial(start)
    space = _xgboost_space if xgb else _elasticnet_space
    fitted: dict[int, Candidate] = {}
    trials: list[dict[str, Any]] = []

    def objective(trial: optuna.Trial) -> float:
        params = space(trial)
        try:
            candidate, row = fit_and_score(
                data, family, params, jobs=jobs, callbacks=[_pruning(trial)] if xgb else ()
            )
        except optuna.TrialPruned:
            trials.append(
                {"family": family, **params, "pruned": True, "features": len(data.columns)}
            )
            tick(f"{data.stat} {family} trial {trial.number}: pruned")
            raise
        fitted[trial.number] = candidate
        trials.append({**row, "pruned": False})
        tick(f"{data.stat} {family} trial {trial.number}: brier {candidate.scores.brier:.4f}")
        return candidate.scores.brier

    study.optimize(objective, n_trials=XGBOOST_TRIALS if xgb else ELASTICNET_TRIALS)
    best = fitted[study.best_trial.number]
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
