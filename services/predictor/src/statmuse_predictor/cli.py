"""statmuse-predictor: serve, migrate."""

from statmuse_predictor.settings import PredictorSettings
from statmuse_shared.platform.runtime import service_cli


def _settings() -> PredictorSettings:
    return PredictorSettings()  # DATABASE_URL comes from the env


def _create_app(settings: PredictorSettings) -> object:
    from statmuse_predictor.app import create_app

    return create_app(settings)


app = service_cli(
    service="predictor",
    schema="predictions",
    settings=_settings,
    create_app=_create_app,
    help=__doc__,
)


def main() -> None:
    app()
