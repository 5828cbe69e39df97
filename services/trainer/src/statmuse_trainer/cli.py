"""statmuse-trainer: serve, migrate."""

from statmuse_shared.runtime import service_cli
from statmuse_trainer.settings import TrainerSettings


def _settings() -> TrainerSettings:
    return TrainerSettings()  # DATABASE_URL comes from the env


def _create_app(settings: TrainerSettings) -> object:
    from statmuse_trainer.app import create_app

    return create_app(settings)


app = service_cli(
    service="trainer", schema="registry", settings=_settings, create_app=_create_app, help=__doc__
)


def main() -> None:
    app()
