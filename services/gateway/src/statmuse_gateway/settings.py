import ipaddress
from pathlib import Path

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import SettingsConfigDict

from statmuse_shared.platform.settings import BaseServiceSettings


class GatewaySettings(BaseServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", populate_by_name=True, frozen=True)

    http_port: int = 8000
    group_id: str = "gateway"
    # The MLflow UI as a browser reaches it: the Models page links each version to its run.
    mlflow_ui_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("MLFLOW_UI_URL", "mlflow_ui_url"),
        description="MLFLOW_UI_URL: the MLflow UI's address for links (unset: no links)",
    )
    cors_origins: tuple[str, ...] = ("http://localhost:3000",)
    # Security (issue: gateway). Writes and admin always need a key; reads only when set.
    require_key_for_reads: bool = False
    rate_limit_per_minute: int = Field(default=100, ge=1)
    # The reverse proxies (addresses or CIDR networks) whose X-Forwarded-For names the client.
    # Empty (the default): the header is ignored from everyone, so a client cannot pick a
    # fresh rate-limit budget by writing it; behind a proxy, set it to the proxy's address.
    trusted_proxies: tuple[str, ...] = ()

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        """Addresses or CIDR networks only: a typo would silently never match."""
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError as exc:
                raise ValueError(
                    f"GATEWAY_TRUSTED_PROXIES: {item!r} is not an address or network"
                ) from exc
        return value

    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    # An answer's data is stale when its last game is more than this many days before the
    # game it is for (or today, when that game is not known).
    stale_after_days: int = Field(default=10, ge=0)
    # Caching and batches.
    prediction_cache_seconds: int = Field(default=3600, ge=1)
    batch_max_items: int = Field(default=50, ge=1, le=50)
    batch_budget_seconds: float = Field(default=30.0, gt=0)
    batch_item_timeout_seconds: float = Field(default=5.0, gt=0)
    # The dashboard's models page shows the newest evaluation and training reports.
    reports_dir: Path = Path("reports")
