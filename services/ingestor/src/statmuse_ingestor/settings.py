from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from statmuse_ingestor.sources import SourceName
from statmuse_shared.platform.settings import BaseServiceSettings


class IngestorSettings(BaseServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INGESTOR_", populate_by_name=True, frozen=True)

    http_port: int = 8101
    data_dir: Path = Path("data/nba")
    publish_chunk: int = 2000
    daily_source: SourceName = SourceName.NBA_API
    schedule_daily: bool = Field(
        default=False, description="Run the daily ingest at daily_hour US/Eastern in the service"
    )
    daily_hour: int = Field(default=6, ge=0, le=23)
    nba_api_min_interval_s: float = Field(default=0.6, gt=0, description="Token-bucket spacing")
    nba_api_timeout_s: float = Field(default=30.0, gt=0)
    nba_api_attempts: int = Field(default=5, ge=1)
    odds_api_key: SecretStr | None = Field(
        default=None, description="The Odds API's key, for `lines --source the_odds_api`"
    )
    odds_api_regions: str = Field(default="us", description="Whose books: us, us2, uk, eu, au")
    odds_api_min_interval_s: float = Field(default=1.0, gt=0)
