"""The model runtime shared by trainer (writes artifacts), predictor and gateway (serve them).

An artifact is JSON (small models) with a `model_type`; `load_model` turns it into an object
that maps a feature vector to a predictive distribution plus the features that drove it.
"""

import json
import math
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from statmuse_shared.distributions import CountDistribution, DiscretizedNormal, Poisson
from statmuse_shared.stats import Stat


class ModelInputError(ValueError):
    """The feature vector cannot feed this model (e.g. too little history)."""


@dataclass(frozen=True, slots=True)
class Contribution:
    feature: str
    value: float | None
    contribution: float


@dataclass(frozen=True, slots=True)
class ModelOutput:
    distribution: CountDistribution
    contributions: tuple[Contribution, ...]
    fallback: str | None = None


class Model(Protocol):
    stat: Stat
    model_type: str

    def predict(self, features: dict[str, float | None]) -> ModelOutput: ...


class RollingMeanArtifact(BaseModel):
    """Naive baseline: the last-N mean as the centre, a spread fitted on training residuals."""

    model_type: Literal["rolling_mean"] = "rolling_mean"
    stat: Stat
    feature: str = Field(examples=["points_sma_10"])
    fallback_feature: str = Field(examples=["points_season_avg"])
    window_count_feature: str = Field(examples=["points_n_10"])
    min_games: int = Field(ge=1)
    family: Literal["normal", "poisson"]
    residual_sd: float = Field(gt=0, description="RMSE of (actual - rolling mean) in training")
    league_mean: float = Field(ge=0, description="Used when the player has no usable history")
    feature_set_version: str


class RollingMeanModel:
    model_type = "rolling_mean"

    def __init__(self, artifact: RollingMeanArtifact) -> None:
        self.artifact = artifact
        self.stat = artifact.stat

    def predict(self, features: dict[str, float | None]) -> ModelOutput:
        a = self.artifact
        games = features.get(a.window_count_feature) or 0.0
        centre = features.get(a.feature)
        used, fallback = a.feature, None
        if centre is None or games < a.min_games:
            centre, used, fallback = (
                features.get(a.fallback_feature),
                a.fallback_feature,
                "season_mean",
            )
        if centre is None or not math.isfinite(centre):
            centre, used, fallback = a.league_mean, "league_mean", "league_mean"
        mu = max(float(centre), 0.05)
        dist: CountDistribution = (
            Poisson(mu) if a.family == "poisson" else DiscretizedNormal(mu, a.residual_sd)
        )
        return ModelOutput(
            distribution=dist,
            contributions=(Contribution(used, features.get(used), mu),),
            fallback=fallback,
        )


def load_model(data: bytes) -> Model:
    try:
        raw: Any = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelInputError(f"artifact is not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise ModelInputError(f"artifact must be a JSON object, got {type(raw).__name__}")
    kind = raw.get("model_type")
    if kind == "rolling_mean":
        return RollingMeanModel(RollingMeanArtifact.model_validate(raw))
    raise ModelInputError(f"unknown model_type {kind!r}")
