"""statmuse-features: serve, migrate."""

from statmuse_features.settings import FeaturesSettings
from statmuse_shared.runtime import service_cli


def _settings() -> FeaturesSettings:
    return FeaturesSettings()  # DATABASE_URL comes from the env


def _create_app(settings: FeaturesSettings) -> object:
    from statmuse_features.app import create_app

    return create_app(settings)


app = service_cli(
    service="features", schema="features", settings=_settings, create_app=_create_app, help=__doc__
)


def main() -> None:
    app()
