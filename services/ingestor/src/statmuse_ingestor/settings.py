from pathlib import Path

from pydantic_settings import SettingsConfigDict

from statmuse_shared.settings import BaseServiceSettings


class IngestorSettings(BaseServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INGESTOR_", populate_by_name=True, frozen=True)

    http_port: int = 8101
    data_dir: Path = Path("data/nba")
    publish_chunk: int = 2000
