import pytest
from pydantic import ValidationError

from statmuse_shared.platform.settings import BaseServiceSettings

_ENV = (
    "STATMUSE_ENV",
    "DATABASE_URL",
    "LOG_LEVEL",
    "LOG_JSON",
    "KAFKA_BOOTSTRAP_SERVERS",
    "REDIS_URL",
    "ARTIFACT_STORE_URL",
)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://statmuse:postgres@db:5432/statmuse",
        "postgresql://statmuse:changeme@db:5432/statmuse",
        "postgresql://statmuse:PASSWORD@db:5432/statmuse",
        "postgresql://statmuse@db:5432/statmuse",
        "postgresql://statmuse:@db:5432/statmuse",
    ],
)
def test_placeholder_password_refused_in_production(url: str) -> None:
    with pytest.raises(ValidationError, match="placeholder or empty password"):
        BaseServiceSettings(database_url=url, environment="production")


def test_placeholder_password_refused_in_test_environment() -> None:
    # STYLE.md: placeholder secrets are refused outside development.
    with pytest.raises(ValidationError, match="placeholder or empty password"):
        BaseServiceSettings(database_url="postgresql://u:postgres@db/x", environment="test")


def test_placeholder_password_accepted_in_development() -> None:
    settings = BaseServiceSettings(database_url="postgresql://statmuse:postgres@localhost/statmuse")
    assert settings.environment == "development"
    assert settings.dsn == "postgresql://statmuse:postgres@localhost/statmuse"


def test_real_password_accepted_in_production() -> None:
    url = "postgresql://statmuse:k7Vq9-long-random@db:5432/statmuse"
    settings = BaseServiceSettings(database_url=url, environment="production")
    assert settings.dsn == url
    assert "k7Vq9" not in repr(settings)  # the secret is masked


def test_environment_alias_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATMUSE_ENV", "production")
    with pytest.raises(ValidationError, match="placeholder"):
        BaseServiceSettings(database_url="postgresql://u:secret@db/x")


def test_database_url_has_no_default() -> None:
    with pytest.raises(ValidationError, match="database_url|DATABASE_URL"):
        BaseServiceSettings()
