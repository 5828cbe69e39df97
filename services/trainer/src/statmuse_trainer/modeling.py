"""Fitting and choosing a stat's model: candidates, search, ensembles, per-player heads,
dispersion and calibration. Pure: frames in, fitted objects and scores out (no I/O).

What is optimised is the quality of P(over), not accuracy: every candidate is scored by the
Brier score of P(over) on the validation season at the *reference line* of each game, the
half-point line just above the player's last-10 mean (floor(mean) + 0.5). That is where books
put their lines; the real lines (2023-24 only) stay untouched for the test.

The predictive distribution is a negative binomial around the model's mean, with a dispersion
fitted per player (shrunk towards the pooled one), then recalibrated with isotonic regression
on the validation season: the map g from model CDF to observed frequency, fitted on
(F(k), 1[y <= k]) at the whole numbers around each line, keeps the CDF monotone, so P(over),
P(under) and P(push) at any line stay consistent and sum to 1.
"""

import itertools
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special

from statmuse_shared.features import feature_names

log = logging.getLogger(__name__)

STATS = ("points", "rebounds", "assists", "threes", "pra")
_STAT_PREFIXES = {"points", "rebounds", "assists", "threes", "pra", "minutes"}
MIN_HISTORY = 3  # games of the stat before the pooled model is trusted; fewer -> league baseline
PLAYER_MIN_GAMES = 50  # training games before a player gets a model of their own
PLAYER_MIN_VALIDATION = 20  # validation games needed to judge that model against the pooled one
CALIBRATION_KNOTS = 11  # the calibration map is piecewise linear between these CDF values
HEAD_MIN_T = 2.0  # per-player model kept only when it beats the pooled one this clearly
SHRINK_GAMES = 30.0  # dispersion shrinkage: a player's own estimate counts as n / (n + 30)
HEAD_FEATURES = (
    "{s}_sma_10",
    "{s}_season_avg",
    "{s}_ema",
    "{s}_career_avg",
    "minutes_sma_10",
    "minutes_sma_3",
    "is_home",
    "back_to_back",
    "days_rest",
    "opp_def_rating",
    "opp_pace",
)


def feature_columns(stat: str) -> list[str]:
    """The features a stat's model sees: its own, minutes, the game context; pra also sees
    its three components."""
    own = {stat, "minutes"} | ({"points", "rebounds", "assists"} if stat == "pra" else set())
    return [
        n for n in feature_names() if (p := n.split("_", 1)[0]) in own or p not in _STAT_PREFIXES
    ]


def head_columns(stat: str) -> list[str]:
    return [f.format(s=stat) for f in HEAD_FEATURES]


# --- the negative binomial, vectorised -----------------------------------------------------


MIN_PHI, MAX_PHI = 1.01, 50.0  # variance-to-mean ratio: just above Poisson, up to very wide


def nb_size(mu: np.ndarray | float, phi: np.ndarray | float) -> np.ndarray:
    """The negative binomial's size r for mean mu and variance phi * mu ("NB1"): variance
    grows with the mean, as it does for points (a bench player's 5 and a star's 27 have
    variance-to-mean ratios of about 3 and 2.4; a constant r would give the star an sd of 16)."""
    return np.asarray(mu, dtype=np.float64) / (np.asarray(phi, dtype=np.float64) - 1.0)


def nb_cdf(k: np.ndarray, mu: np.ndarray, phi: np.ndarray | float) -> np.ndarray:
    """P(X <= k) for NB with mean mu and variance phi * mu; k < 0 gives 0."""
    k = np.asarray(k, dtype=float)
    r = nb_size(mu, phi)
    out = special.betainc(r, np.maximum(k, 0) + 1.0, r / (r + mu))
    return np.asarray(np.where(k < 0, 0.0, out), dtype=np.float64)


def nb_logpmf(y: np.ndarray, mu: np.ndarray, phi: float | np.ndarray) -> np.ndarray:
    r = nb_size(mu, phi)
    return np.asarray(
        special.gammaln(y + r)
        - special.gammaln(r)
        - special.gammaln(y + 1)
        + r * np.log(r / (r + mu))
        + y * np.log(mu / (r + mu)),
        dtype=np.float64,
    )


def fit_dispersion_mle(y: np.ndarray, mu: np.ndarray) -> float:
    """Pooled variance-to-mean ratio phi maximising the NB likelihood of y given means mu."""
    res = optimize.minimize_scalar(
        lambda log_excess: -float(np.sum(nb_logpmf(y, mu, 1.0 + math.exp(log_excess)))),
        bounds=(math.log(MIN_PHI - 1.0), math.log(MAX_PHI - 1.0)),
        method="bounded",
    )
    return float(1.0 + math.exp(res.x))


def player_dispersions(
    player_ids: np.ndarray, y: np.ndarray, mu: np.ndarray, pooled: float
) -> dict[int, float]:
    """Per-player phi: the method-of-moments estimate sum((y - mu)^2) / sum(mu) from the
    player's residuals, shrunk towards the pooled phi on the log(phi - 1) scale with weight
    n / (n + SHRINK_GAMES)."""
    out = {}
    frame = pd.DataFrame({"p": player_ids, "y": y, "mu": mu})
    for pid, g in frame.groupby("p", sort=False):
        n = len(g)
        if n < 10:
            continue
        own = float(np.sum((g["y"] - g["mu"]) ** 2)) / max(float(np.sum(g["mu"])), 1e-9)
        own = min(max(own, MIN_PHI), MAX_PHI)
        w = n / (n + SHRINK_GAMES)
        excess = math.exp(w * math.log(own - 1.0) + (1 - w) * math.log(pooled - 1.0))
        out[int(pid)] = 1.0 + excess  # type: ignore[arg-type]
    return out


def over_probability(mu: np.ndarray, phi: np.ndarray | float, lines: np.ndarray) -> np.ndarray:
    """P(X > line) for half-point lines (whole lines: the push is neither over nor under)."""
    return 1.0 - nb_cdf(np.floor(lines), mu, phi)


def reference_lines(df: pd.DataFrame, stat: str) -> np.ndarray:
    """The half-point line just above the last-10 mean (books set lines near it)."""
    base = df[f"f_{stat}_sma_10"].fillna(df[f"f_{stat}_season_avg"]).to_numpy()
    return np.asarray(np.maximum(np.floor(base) + 0.5, 0.5), dtype=np.float64)


# --- scores --------------------------------------------------------------------------------


def brier(p: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((p - y) ** 2))


def log_loss(p: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def ece(p: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: the count-weighted gap between mean P and frequency in
    equal-width bins."""
    idx = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            total += m.sum() * abs(float(p[m].mean()) - float(y[m].mean()))
    return total / max(len(p), 1)


def reliability(p: np.ndarray, y: np.ndarray, bins: int = 10) -> pd.DataFrame:
    idx = np.minimum((p * bins).astype(int), bins - 1)
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
        brier(p, went_over),
        log_loss(p, went_over),
        float(np.mean(np.abs(y - mu))),
        float(np.sqrt(np.mean((y - mu) ** 2))),
        phi,
    )


# --- data for one stat ---------------------------------------------------------------------


@dataclass
class StatData:
    stat: str
    columns: list[str]
    train: pd.DataFrame
    validation: pd.DataFrame
    validation_note: str | None = None  # set when validation is not the validation season

    def x(self, part: str) -> np.ndarray:
        frame: pd.DataFrame = getattr(self, part)
        return frame[[f"f_{c}" for c in self.columns]].to_numpy(np.float64)

    def y(self, part: str) -> np.ndarray:
        frame: pd.DataFrame = getattr(self, part)
        return frame[f"label_{self.stat}"].to_numpy(np.float64)

    def lines(self, part: str) -> np.ndarray:
        return reference_lines(getattr(self, part), self.stat)


def pooled_rows(df: pd.DataFrame, stat: str) -> pd.Series:
    """Rows the pooled model covers: a label, enough history, and a reference line."""
    return (
        df[f"label_{stat}"].notna()
        & (df[f"f_{stat}_career_n"].fillna(0) >= MIN_HISTORY)
        & df[f"f_{stat}_sma_10"].notna()
    )


MIN_VALIDATION_ROWS = 200
HOLDOUT_SHARE = 0.25


def stat_data(df: pd.DataFrame, stat: str) -> StatData:
    """Training and validation rows of a stat. When the validation season lacks the stat (the
    source has no threes for 2022-23), the last quarter of the training days validates
    instead: still strictly after every training game, and the test season stays unseen."""
    keep = pooled_rows(df, stat)
    part = df.loc[keep].sort_values("game_date", kind="stable")
    train = part[part["split"] == "train"].reset_index(drop=True)
    validation = part[part["split"] == "validation"].reset_index(drop=True)
    if len(validation) >= MIN_VALIDATION_ROWS or train.empty:
        return StatData(stat, feature_columns(stat), train, validation)
    days = np.sort(train["game_date"].unique())
    cut = days[int(len(days) * (1 - HOLDOUT_SHARE))]
    note = (
        f"only {len(validation)} {stat} labels in the validation season, so validated on "
        f"the last quarter of training days (from {pd.Timestamp(cut).date()})"
    )
    return StatData(
        stat,
        feature_columns(stat),
        train[train["game_date"] < cut].reset_index(drop=True),
        train[train["game_date"] >= cut].reset_index(drop=True),
        note,
    )


# --- candidates ----------------------------------------------------------------------------


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


def _fit_elasticnet(x: np.ndarray, y: np.ndarray, params: dict[str, Any]) -> Any:
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
            model = _fit_elasticnet(x, y, params)
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


# --- per-player heads ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Head:
    player_id: int
    model: Any  # sklearn pipeline over head_columns(stat)
    n_train: int
    pooled_brier: float
    own_brier: float


def _fit_head(
    pid: int,
    x: np.ndarray,
    y: np.ndarray,
    xv: np.ndarray,
    yv: np.ndarray,
    lines: np.ndarray,
    pooled: np.ndarray,
    dispersion: float,
) -> Head | None:
    """One player's model, kept only if it beats the pooled one on the player's validation
    games clearly: the per-game Brier improvement must be positive with a t-statistic above
    HEAD_MIN_T. With 20 to 80 games a plain comparison picks noise: a first version that kept
    every head with a lower validation Brier kept a third of the players and was worse than
    the pooled model on the test season for exactly those players.
    Module level and fed arrays only, so worker processes get small pickles."""
    model = _fit_elasticnet(x, y, {"alpha": 0.1, "l1_ratio": 0.5})
    went = (yv > lines).astype(float)
    p_own = over_probability(np.maximum(model.predict(xv), 0.05), dispersion, lines)
    p_pooled = over_probability(np.maximum(pooled, 0.05), dispersion, lines)
    gain = (p_pooled - went) ** 2 - (p_own - went) ** 2
    se = float(gain.std(ddof=1)) / math.sqrt(len(gain))
    if se == 0 or float(gain.mean()) / se < HEAD_MIN_T:
        return None
    return Head(pid, model, len(y), brier(p_pooled, went), brier(p_own, went))


def _rows_by_player(df: pd.DataFrame) -> dict[int, np.ndarray]:
    groups = df.groupby("player_id", sort=False).indices
    return {int(k): np.asarray(v) for k, v in groups.items()}  # type: ignore[call-overload]


def fit_heads(
    data: StatData, pooled_validation: np.ndarray, dispersion: float, *, jobs: int
) -> tuple[list[Head], int]:
    """A small ElasticNet per player with PLAYER_MIN_GAMES training games, kept only where it
    beats the pooled model's validation Brier score on that player's games. Returns the kept
    heads and how many players were tried."""
    from joblib import Parallel, delayed

    cols = [f"f_{c}" for c in head_columns(data.stat)]
    x_all, y_all = data.train[cols].to_numpy(np.float64), data.y("train")
    xv_all, yv_all = data.validation[cols].to_numpy(np.float64), data.y("validation")
    lines = data.lines("validation")
    train_idx, val_idx = _rows_by_player(data.train), _rows_by_player(data.validation)
    # stat_data sorts by date and positions ascend, so each player's rows are in date order.
    eligible = [
        p
        for p, idx in train_idx.items()
        if len(idx) >= PLAYER_MIN_GAMES and len(val_idx.get(p, ())) >= PLAYER_MIN_VALIDATION
    ]
    tasks = (
        delayed(_fit_head)(
            pid,
            x_all[train_idx[pid]],
            y_all[train_idx[pid]],
            xv_all[val_idx[pid]],
            yv_all[val_idx[pid]],
            lines[val_idx[pid]],
            pooled_validation[val_idx[pid]],
            dispersion,
        )
        for pid in eligible
    )
    results = Parallel(n_jobs=jobs, batch_size=16)(tasks)
    return [h for h in results if h is not None], len(eligible)


# --- calibration ---------------------------------------------------------------------------


def cdf_pairs(
    y: np.ndarray, mu: np.ndarray, phi: np.ndarray, lines: np.ndarray, spread: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """(F(k), 1[y <= k]) for the whole numbers k within `spread` of each row's line."""
    ks = np.floor(lines)[:, None] + np.arange(-spread, spread + 1)[None, :]
    ks = np.maximum(ks, 0)
    f = nb_cdf(ks, mu[:, None], phi[:, None])
    hit = (y[:, None] <= ks).astype(float)
    return f.ravel(), hit.ravel()


def fit_calibration(f: np.ndarray, hit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Isotonic map from model CDF to observed frequency, as interpolation knots pinned at
    (0, 0) and (1, 1)."""
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(f, hit)
    # Isotonic regression is a step function; used as is, the calibrated CDF would be flat
    # over runs of whole numbers and the distribution would pile its mass on a few values.
    # One knot per step, at the step's centre, interpolated linearly ("centred isotonic
    # regression"), keeps it monotone, continuous and strictly increasing.
    xs, ys = iso.X_thresholds_, iso.y_thresholds_
    starts = np.flatnonzero(np.r_[True, np.diff(ys) != 0])
    ends = np.r_[starts[1:], len(ys)]
    centre_x = np.array([xs[a:b].mean() for a, b in zip(starts, ends, strict=True)])
    inner = (ys[starts] > 0) & (ys[starts] < 1)  # the pinned ends stand for blocks at 0 or 1
    x = np.concatenate([[0.0], centre_x[inner], [1.0]])
    y = np.concatenate([[0.0], ys[starts][inner], [1.0]])
    x, keep = np.unique(x, return_index=True)
    y = np.maximum.accumulate(y[keep])
    # Even centred, a map with a hundred knots has slopes that jump from knot to knot, and the
    # pmf (the CDF's differences) comes out ragged. The map is read at CALIBRATION_KNOTS evenly
    # spaced CDF values instead: a few straight pieces, still monotone, pinned at 0 and 1.
    grid = np.linspace(0.0, 1.0, CALIBRATION_KNOTS)
    return grid, np.maximum.accumulate(np.interp(grid, x, y))


def calibrated_over(
    mu: np.ndarray, phi: np.ndarray, lines: np.ndarray, knots: tuple[np.ndarray, np.ndarray]
) -> np.ndarray:
    f = nb_cdf(np.floor(lines), mu, phi)
    return np.asarray(1.0 - np.interp(f, knots[0], knots[1]), dtype=np.float64)
