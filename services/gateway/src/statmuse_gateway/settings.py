from pydantic_settings import SettingsConfigDict

from statmuse_shared.settings import BaseServiceSettings


class GatewaySettings(BaseServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", populate_by_name=True, frozen=True)

    http_port: int = 8000
    group_id: str = "gateway"
    cors_origins: tuple[str, ...] = ("http://localhost:3000",)
