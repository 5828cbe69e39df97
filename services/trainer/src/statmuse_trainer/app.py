"""create_app(settings): the trainer's consumers plus /health, /ready and /metrics."""

from functools import partial

from starlette.applications import Starlette

from statmuse_shared.artifacts import open_store
from statmuse_shared.runtime import consumer_app
from statmuse_trainer.handlers import register
from statmuse_trainer.settings import TrainerSettings

SERVICE = "trainer"


def create_app(settings: TrainerSettings) -> Starlette:
    return consumer_app(
        service=SERVICE,
        settings=settings,
        register=partial(register, settings=settings),
        state={"store": open_store(settings.artifact_store_url)},
    )
