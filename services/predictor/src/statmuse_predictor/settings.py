from pydantic_settings import SettingsConfigDict

from statmuse_shared.settings import BaseServiceSettings


class PredictorSettings(BaseServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PREDICTOR_", populate_by_name=True, frozen=True)

    http_port: int = 8104
    group_id: str = "predictor"
