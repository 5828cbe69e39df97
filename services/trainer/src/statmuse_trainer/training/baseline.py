"""Pure training logic. The naive baseline: the last-10 mean as the centre of a discretised
normal whose spread is the RMSE of (actual - last-10 mean) on the training examples."""

import math
from collections.abc import Sequence
from dataclasses import dataclass

from statmuse_shared.contract.stats import Stat
from statmuse_shared.models.baseline import RollingMeanArtifact

WINDOW = 10


@dataclass(frozen=True, slots=True)
class Example:
    features: dict[str, float | None]
    label: float


@dataclass(frozen=True, slots=True)
class Fitted:
    artifact: RollingMeanArtifact
    metrics: dict[str, float]


class NotEnoughData(ValueError):
    pass


def feature_prefix(stat: Stat) -> str:
    return stat.value


def fit_rolling_mean(
    stat: Stat, examples: Sequence[Example], *, min_games: int, feature_set_version: str
) -> Fitted:
    p = feature_prefix(stat)
    centre, count = f"{p}_sma_{WINDOW}", f"{p}_n_{WINDOW}"
    usable = [
        (e.features[centre], e.label)
        for e in examples
        if e.features.get(centre) is not None and (e.features.get(count) or 0) >= min_games
    ]
    if len(usable) < 30:
        raise NotEnoughData(f"{stat}: {len(usable)} usable examples, need at least 30")
    errors = [label - float(pred) for pred, label in usable if pred is not None]
    rmse = math.sqrt(math.fsum(e * e for e in errors) / len(errors))
    mae = math.fsum(abs(e) for e in errors) / len(errors)
    league_mean = math.fsum(e.label for e in examples) / len(examples)
    artifact = RollingMeanArtifact(
        stat=stat,
        feature=centre,
        fallback_feature=f"{p}_season_avg",
        window_count_feature=count,
        min_games=min_games,
        family="normal",
        residual_sd=max(rmse, 0.5),
        league_mean=league_mean,
        feature_set_version=feature_set_version,
    )
    return Fitted(artifact, {"mae": mae, "rmse": rmse, "n_train": float(len(usable))})
