"""The naive baseline model: the last-N mean as the centre, a spread fitted on training
residuals (a JSON artifact)."""

import math
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, Field

from statmuse_shared.contract.stats import Stat
from statmuse_shared.models.distributions import CountDistribution, DiscretizedNormal, Poisson
from statmuse_shared.models.output import Contribution, ModelOutput


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

    def predict(
        self, features: Mapping[str, float | None], player_id: int | None = None
    ) -> ModelOutput:
        del player_id  # one model for everyone
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
