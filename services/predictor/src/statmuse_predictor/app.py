"""create_app(settings): the predictor's consumers plus /health, /ready and /metrics."""

from functools import partial

from starlette.applications import Starlette

from statmuse_predictor.handlers import register
from statmuse_predictor.settings import PredictorSettings
from statmuse_shared.models.artifacts import open_store
from statmuse_shared.models.serving import ModelBook
from statmuse_shared.platform.runtime import consumer_app

SERVICE = "predictor"


def create_app(settings: PredictorSettings) -> Starlette:
    book = ModelBook(store=open_store(settings.artifact_store_url), ab_share=settings.ab_share)
    return consumer_app(
        service=SERVICE,
        settings=settings,
        register=partial(register, settings=settings),
        state={"book": book},
    )
