"""One stat, end to end: search the candidates, pick the best on validation, add per-player
heads, fit the spread and the calibration, and pack it all into the bundle the predictor and
gateway serve (`statmuse_shared.models.count.CountModel`). Pure: a dataset frame in, bytes and
reports out."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from statmuse_shared.contract.stats import Stat
from statmuse_shared.features import FEATURE_SET_VERSION
from statmuse_shared.models.count import CountModel, CountModelHeader
from statmuse_shared.models.regressors import LinearPart, TreePart
from statmuse_trainer import scoring
from statmuse_trainer.training import export
from statmuse_trainer.training.calibration import calibrated_over, cdf_pairs, fit_calibration
from statmuse_trainer.training.candidates import (
    PARSIMONY_BRIER,
    Candidate,
    fit_light,
    search,
    stack,
    vote,
)
from statmuse_trainer.training.heads import fit_heads
from statmuse_trainer.training.negbin import (
    earned_dispersions,
    fit_dispersion_mle,
    over_probability,
)
from statmuse_trainer.training.selection import Selection, select
from statmuse_trainer.training.stat_data import (
    MIN_HISTORY,
    StatData,
    centre_feature,
    head_columns,
    history_feature,
    is_light,
    pooled_rows,
    stat_data,
)

LEAGUE_MINUTES = ("minutes_sma_3", "minutes_season_avg", "minutes_career_avg")
FAMILIES = ("random_forest", "xgboost", "elasticnet")  # the order of the 0.4/0.4/0.2 start
# The light fit of the stats without bundled lines (steals, blocks, turnovers and the sums of
# two; `LINE_STATS` get the full one), so that every stat trains within the 15-minute budget:
# the compact feature families only, one XGBoost and one ElasticNet configuration
# (`candidates.LIGHT`), no forest, no feature selection and no per-player heads (the full fit
# keeps a handful of a few hundred), then the same vote, stack, spread and calibration.
LIGHT_FAMILIES = ("xgboost", "elasticnet")


@dataclass
class FittedStat:
    stat: str
    name: str
    bundle: bytes
    header: CountModelHeader
    chosen: str
    candidates: list[Candidate]
    trials: list[dict[str, Any]]
    heads_kept: int
    heads_tried: int
    n_train: int
    n_validation: int
    validation: dict[str, float]
    reliability_before: pd.DataFrame
    reliability_after: pd.DataFrame
    importance: pd.DataFrame
    selection: Selection
    seconds: dict[str, float] = field(default_factory=dict)
    validation_note: str | None = None
    window: dict[str, Any] = field(default_factory=dict)

    def metrics(self) -> dict[str, Any]:
        return {
            "n_train": self.n_train,
            "n_validation": self.n_validation,
            "chosen": self.chosen,
            "heads": self.heads_kept,
            **self.validation,
        }

    def metadata(self, dataset_version: str) -> dict[str, Any]:
        """What the registry keeps beside the artifact (and the sidecar JSON of a bundle)."""
        v = self.validation
        return {
            "dataset_version": dataset_version,
            "metrics": {
                "mae": v["mae"],
                "rmse": v["rmse"],
                "n_train": self.n_train,
                "n_validation": self.n_validation,
                "brier": v["brier"],
                "log_loss": v["log_loss"],
                "ece": v["ece"],
                "ece_uncalibrated": v["ece_uncalibrated"],
            },
            "chosen": self.chosen,
            "parts": self.header.part_names,
            "weights": self.header.weights,
            "candidates": {c.name: c.scores.as_dict() for c in self.candidates},
            "params": {c.name: c.params for c in self.candidates},
            "feature_importance": self.importance.head(20).to_dict("records"),
            "heads": {"kept": self.heads_kept, "tried": self.heads_tried},
            "validation": self.validation_note or "the validation season",
            "training_window": self.window,
            **{
                key: value.model_dump(mode="json")
                for key, value in (
                    ("line_blend", self.header.line_blend),
                    ("market_layer", self.header.market_layer),
                )
                if value is not None
            },
        }


def protected_columns(stat: str) -> set[str]:
    """The columns the served model reads by name, which feature selection must keep."""
    return {history_feature(stat), centre_feature(stat), *LEAGUE_MINUTES, *head_columns(stat)}


def training_window(df: pd.DataFrame) -> dict[str, Any]:
    """Every game day a model saw, fitting or choosing or calibrating (train and validation
    rows): a backtest refuses a model whose window overlaps its period."""
    seen = df[df["split"].isin(["train", "validation"])]
    days = pd.to_datetime(seen["game_date"])
    return {
        "first_day": days.min().date().isoformat(),
        "last_day": days.max().date().isoformat(),
        "seasons": sorted(str(s) for s in seen["season"].unique()),
    }


def _export(c: Candidate) -> LinearPart | TreePart:
    if c.name == "elasticnet":
        return export.linear_from_pipeline(c.model)
    if c.name == "random_forest":
        return export.forest_from_sklearn(c.model)
    return export.boosted_from_xgboost(c.model)


def _combination(
    chosen: Candidate, singles: dict[str, Candidate]
) -> tuple[list[str], list[float], float]:
    if chosen.name in singles:
        return [chosen.name], [1.0], 0.0
    names = list(chosen.params["parts"])
    if chosen.name == "voting":
        weights = list(chosen.params["weights"])
        keep = [i for i, w in enumerate(weights) if w > 0]
        return [names[i] for i in keep], [weights[i] for i in keep], 0.0
    coef = [float(v) for v in chosen.model.coef_]
    return names, coef, float(chosen.model.intercept_)


def _league(df: pd.DataFrame, stat: str) -> tuple[float, float, float]:
    """Rate per minute, default minutes and dispersion for players without history, from
    the training seasons."""
    train = df[(df["split"] == "train") & df[f"label_{stat}"].notna() & df["label_minutes"].notna()]
    rate = float(train[f"label_{stat}"].sum() / max(train["label_minutes"].sum(), 1.0))
    fresh = train[~pooled_rows(train, stat)]
    minutes = pd.Series(np.nan, index=fresh.index)
    for f in reversed(LEAGUE_MINUTES):
        minutes = fresh[f"f_{f}"].where(fresh[f"f_{f}"].notna(), minutes)
    default = float(fresh["label_minutes"].mean()) if len(fresh) else 15.0
    mu = np.maximum(rate * minutes.fillna(default).to_numpy(), 0.05)
    y = fresh[f"label_{stat}"].to_numpy(np.float64)
    dispersion = fit_dispersion_mle(y, mu) if len(y) > 50 else 2.0
    return rate, default, dispersion


def importance(
    parts: list[LinearPart | TreePart], weights: list[float], x: np.ndarray, names: list[str]
) -> pd.DataFrame:
    """Mean absolute contribution of each feature to the served mean, as a share of the total:
    the same numbers the predictor's explanations come from, for every model type."""
    total = np.zeros(x.shape[1])
    for w, part in zip(weights, parts, strict=True):
        total += abs(w) * np.abs(part.contributions(x)[1]).mean(axis=0)
    share = total / total.sum() if total.sum() > 0 else total
    out = pd.DataFrame({"feature": names, "importance": share})
    return out.sort_values("importance", ascending=False, ignore_index=True)


def serve_choice(candidates: Sequence[Candidate], singles: dict[str, Candidate]) -> Candidate:
    """The candidate to serve: the fewest fitted parts among those within PARSIMONY_BRIER of
    the best validation Brier (then the lower Brier)."""
    lowest = min(c.scores.brier for c in candidates)
    close = [c for c in candidates if c.scores.brier <= lowest + PARSIMONY_BRIER]
    return min(close, key=lambda c: (len(_combination(c, singles)[0]), c.scores.brier))


def fit_stat(
    df: pd.DataFrame,
    stat: str,
    *,
    jobs: int = 2,
    tick: Callable[[str], None] = lambda _: None,
) -> FittedStat:
    import time

    seconds: dict[str, float] = {}
    data: StatData = stat_data(df, stat)
    if len(data.train) < 500 or len(data.validation) < 200:
        raise ValueError(
            f"{stat}: too few rows to train ({len(data.train)} train, "
            f"{len(data.validation)} validation)"
        )
    light = is_light(stat)
    families = LIGHT_FAMILIES if light else FAMILIES
    # XGBoost's study first: its best model decides which features every family gets.
    t0 = time.perf_counter()
    if light:
        searched = fit_light(data, "xgboost", jobs=jobs, tick=tick)
    else:
        searched = search(data, "xgboost", jobs=jobs, tick=tick)
    seconds["xgboost"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    if light:
        singles_xgb, selection = searched, Selection.skipped(data, searched)
    else:
        data, singles_xgb, selection = select(
            data, searched, protected=protected_columns(stat), jobs=jobs, tick=tick
        )
    seconds["selection"] = time.perf_counter() - t0
    singles = {"xgboost": singles_xgb}
    for family in families:
        if family in singles:
            continue
        t0 = time.perf_counter()
        singles[family] = (
            fit_light(data, family, jobs=jobs, tick=tick)
            if light
            else search(data, family, jobs=jobs, tick=tick)
        )
        seconds[family] = time.perf_counter() - t0
    parts = [singles[f] for f in families]
    voting, stacking = vote(data, parts), stack(data, parts)
    tick(
        f"{stat} voting: brier {voting.scores.brier:.4f}; "
        f"stacking: brier {stacking.scores.brier:.4f}"
    )
    candidates = [*parts, voting, stacking]
    chosen = serve_choice(candidates, singles)

    # The pooled model as served.
    part_names, weights, intercept = _combination(chosen, singles)
    exported = [_export(singles[n]) for n in part_names]
    xv, yv, lines = data.x("validation"), data.y("validation"), data.lines("validation")
    pooled_v = intercept + sum(w * p.predict(xv) for w, p in zip(weights, exported, strict=True))
    pooled_v = np.maximum(pooled_v, 0.05)
    dispersion = fit_dispersion_mle(yv, pooled_v)

    # Per-player heads, kept only where they beat the pooled model.
    t0 = time.perf_counter()
    heads, tried = ([], 0) if light else fit_heads(data, pooled_v, dispersion, jobs=jobs)
    seconds["heads"] = time.perf_counter() - t0
    tick(f"{stat} per-player: {len(heads)} of {tried} beat the pooled model")
    served_v = pooled_v.copy()
    val_idx = data.validation.groupby("player_id", sort=False).indices
    head_cols = [f"f_{c}" for c in head_columns(stat)]
    for h in heads:
        idx = val_idx[h.player_id]
        served_v[idx] = np.maximum(
            h.model.predict(data.validation.loc[idx, head_cols].to_numpy(np.float64)), 0.05
        )

    # Spread and calibration on the validation season.
    pids = data.validation["player_id"].to_numpy()
    days = pd.to_datetime(data.validation["game_date"]).to_numpy()
    per_player, dispersion_gain = earned_dispersions(pids, days, yv, served_v, dispersion)
    r_rows = np.array([per_player.get(int(p), dispersion) for p in pids])
    knots = fit_calibration(*cdf_pairs(yv, served_v, r_rows, lines))
    went = (yv > lines).astype(float)
    p_before = over_probability(served_v, r_rows, lines)
    p_after = calibrated_over(served_v, r_rows, lines, knots)
    validation = {
        "mae": scoring.mae(yv - served_v),
        "rmse": scoring.rmse(yv - served_v),
        "brier_uncalibrated": scoring.brier(p_before, went),
        "brier": scoring.brier(p_after, went),
        "log_loss_uncalibrated": scoring.log_loss(p_before, went),
        "log_loss": scoring.log_loss(p_after, went),
        "ece_uncalibrated": scoring.ece(p_before, went),
        "ece": scoring.ece(p_after, went),
        "dispersion": dispersion,
        "player_dispersions": float(len(per_player)),
        "player_dispersion_loss_change": dispersion_gain,
    }
    if data.validation_note:
        tick(f"{stat}: {data.validation_note}")

    rate, default_minutes, league_r = _league(df, stat)
    header = CountModelHeader(
        stat=Stat(stat),
        name=f"{stat}-{chosen.name.replace('_', '-')}",
        feature_set_version=FEATURE_SET_VERSION,
        features=data.columns,
        parts=[f"p{i}_" for i in range(len(exported))],
        part_names=part_names,
        weights=weights,
        intercept=intercept,
        dispersion=dispersion,
        history_feature=history_feature(stat),
        centre_feature=centre_feature(stat),
        min_history=MIN_HISTORY,
        head_features=head_columns(stat) if heads else [],
        league_rate_per_minute=rate,
        league_minutes_features=list(LEAGUE_MINUTES),
        league_default_minutes=default_minutes,
        league_dispersion=league_r,
        calibrated=True,
    )
    arrays: dict[str, np.ndarray] = {
        "cal_x": knots[0],
        "cal_y": knots[1],
        "player_r_ids": np.array(sorted(per_player), dtype=np.int64),
        "player_r_values": np.array([per_player[p] for p in sorted(per_player)]),
    }
    for prefix, part in zip(header.parts, exported, strict=True):
        arrays.update(part.to_arrays(prefix))
    arrays["head_ids"] = np.array([h.player_id for h in heads], dtype=np.int64)
    for i, h in enumerate(heads):
        arrays.update(export.linear_from_pipeline(h.model).to_arrays(f"head{i}_"))
    bundle = CountModel.bundle(header, arrays)

    # The bundle must reproduce what was just measured.
    served = CountModel.from_bytes(bundle)
    mu, _, _ = served.means(xv, [int(p) for p in pids])
    if not np.allclose(mu, served_v, rtol=1e-5, atol=1e-6):
        raise AssertionError(f"{stat}: the bundle does not reproduce the fitted model")

    sample = xv[np.random.default_rng(7).choice(len(xv), min(2000, len(xv)), replace=False)]
    return FittedStat(
        stat=stat,
        name=header.name,
        bundle=bundle,
        header=header,
        chosen=chosen.name,
        candidates=candidates,
        trials=[t for c in parts for t in c.trials] + selection.trials,
        selection=selection,
        heads_kept=len(heads),
        heads_tried=tried,
        n_train=len(data.train),
        n_validation=len(data.validation),
        validation=validation,
        reliability_before=scoring.reliability(p_before, went),
        reliability_after=scoring.reliability(p_after, went),
        importance=importance(exported, weights, sample, data.columns),
        seconds=seconds,
        validation_note=data.validation_note,
        window=training_window(df),
    )
