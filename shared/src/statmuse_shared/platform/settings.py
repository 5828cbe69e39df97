"""Settings bases. Only pydantic-settings reads the environment; tests build Settings(...) directly.

Infrastructure URLs are global names (DATABASE_URL, REDIS_URL, KAFKA_BOOTSTRAP_SERVERS) so one
environment configures every service; service-specific fields carry the service's env prefix.
"""

from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Environment = Literal["development", "test", "production"]

# Values that mean "somebody copied the example file"; refused outside development.
PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "secret", "password", "postgres"})


class BaseServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=None, extra="ignore", populate_by_name=True, frozen=True
    )

    environment: Environment = Field(
        default="development", validation_alias=AliasChoices("STATMUSE_ENV", "environment")
    )
    log_level: str = Field(default="INFO", validation_alias=AliasChoices("LOG_LEVEL", "log_level"))
    log_json: bool | None = Field(
        default=None,
        validation_alias=AliasChoices("LOG_JSON", "log_json"),
        description="JSON logs; default: JSON when stderr is not a TTY",
    )

    kafka_bootstrap_servers: str = Field(
        default="localhost:9092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "kafka_bootstrap_servers"),
    )
    database_url: SecretStr = Field(
        validation_alias=AliasChoices("DATABASE_URL", "database_url"),
        description="postgresql://user:password@host:port/db",
    )
    redis_url: str = Field(
        default="redis://localhost:6379/0", validation_alias=AliasChoices("REDIS_URL", "redis_url")
    )
    artifact_store_url: str = Field(
        default="file://./var/artifacts",
        validation_alias=AliasChoices("ARTIFACT_STORE_URL", "artifact_store_url"),
        description="Where model artifacts live: file:///path (object storage later)",
    )
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8100, ge=0, le=65535)

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> "BaseServiceSettings":
        if self.environment != "development":
            password = urlsplit(self.database_url.get_secret_value()).password or ""
            if password.lower() in PLACEHOLDER_SECRETS:
                raise ValueError(
                    f"DATABASE_URL has a placeholder or empty password ({self.environment})"
                )
        return self

    @property
    def dsn(self) -> str:
        return self.database_url.get_secret_value()
