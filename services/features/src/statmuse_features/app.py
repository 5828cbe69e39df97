"""create_app(settings): the features consumer plus /health, /ready and /metrics."""

from functools import partial

from starlette.applications import Starlette

from statmuse_features.handlers import register
from statmuse_features.settings import FeaturesSettings
from statmuse_shared.runtime import consumer_app

SERVICE = "features"


def create_app(settings: FeaturesSettings) -> Starlette:
    return consumer_app(
        service=SERVICE, settings=settings, register=partial(register, settings=settings)
    )
