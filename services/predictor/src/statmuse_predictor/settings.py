from pydantic import Field
from pydantic_settings import SettingsConfigDict

from statmuse_shared.platform.settings import BaseServiceSettings


class PredictorSettings(BaseServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PREDICTOR_", populate_by_name=True, frozen=True)

    http_port: int = 8104
    group_id: str = "predictor"
    ab_share: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        allow_inf_nan=False,
        description="PREDICTOR_AB_SHARE: the share of (player, game date) pairs a serving key "
        "with a staged model predicts with it (the challenger); 0 turns A/B routing off. The "
        "pair's bucket is a sha256 of it, so every replica routes a pair alike (see "
        "statmuse_shared.models.serving).",
    )
