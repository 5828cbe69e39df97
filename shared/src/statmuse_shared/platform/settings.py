"""Settings bases. Only pydantic-settings reads the environment; tests build Settings(...) directly.

Infrastructure URLs are global names (DATABASE_URL, REDIS_URL, KAFKA_BOOTSTRAP_SERVERS) so one
environment configures every service; service-specific fields carry the service's env prefix.
"""

from dataclasses import dataclass, field
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
    # Broker authentication: SASL with one user per service, whose ACLs allow its own topics
    # and groups only (deploy/README.md). PLAINTEXT (none) is for the local stack.
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT",
        validation_alias=AliasChoices("KAFKA_SECURITY_PROTOCOL", "kafka_security_protocol"),
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = Field(
        default="SCRAM-SHA-512",
        validation_alias=AliasChoices("KAFKA_SASL_MECHANISM", "kafka_sasl_mechanism"),
    )
    kafka_username: str | None = Field(
        default=None, validation_alias=AliasChoices("KAFKA_USERNAME", "kafka_username")
    )
    kafka_password: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("KAFKA_PASSWORD", "kafka_password")
    )
    kafka_ssl_cafile: str | None = Field(
        default=None,
        validation_alias=AliasChoices("KAFKA_SSL_CAFILE", "kafka_ssl_cafile"),
        description="The broker's CA certificate (PEM) for SASL_SSL when it is a private one "
        "(an in-cluster Kafka's own CA); default: the system's CAs",
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
        if self.kafka_security_protocol != "PLAINTEXT":
            password = "" if self.kafka_password is None else self.kafka_password.get_secret_value()
            if not self.kafka_username or not password:
                raise ValueError(
                    f"KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                    "KAFKA_USERNAME and KAFKA_PASSWORD"
                )
            if self.environment != "development" and password.lower() in PLACEHOLDER_SECRETS:
                raise ValueError(f"KAFKA_PASSWORD is a placeholder ({self.environment})")
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

    @property
    def kafka_auth(self) -> "KafkaAuth | None":
        """How this service authenticates to the broker; None: it does not (PLAINTEXT)."""
        if self.kafka_security_protocol == "PLAINTEXT":
            return None
        assert self.kafka_username is not None  # the validator made sure
        assert self.kafka_password is not None
        return KafkaAuth(
            self.kafka_security_protocol,
            self.kafka_sasl_mechanism,
            self.kafka_username,
            self.kafka_password.get_secret_value(),
            self.kafka_ssl_cafile,
        )


@dataclass(frozen=True, slots=True)
class KafkaAuth:
    """SASL credentials for the broker (`statmuse_shared.platform.broker` turns them into
    FastStream's and aiokafka's settings)."""

    protocol: Literal["SASL_PLAINTEXT", "SASL_SSL"]
    mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]
    username: str
    password: str = field(repr=False)
    cafile: str | None = None  # a private CA's certificate (PEM), for SASL_SSL
