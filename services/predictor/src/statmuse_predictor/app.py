"""The predictor's composition root: `build_runtime(settings)` wires the broker, the database,
the model book and the repository; `create_app(settings)` is the service (its consumers plus
/health, /ready and /metrics)."""

from starlette.applications import Starlette

from statmuse_predictor.adapters.postgres import PostgresPredictions
from statmuse_predictor.handlers import channels
from statmuse_predictor.ports import PredictionRepository
from statmuse_predictor.runtime import PredictorRuntime
from statmuse_predictor.settings import PredictorSettings
from statmuse_shared.models.artifacts import open_store
from statmuse_shared.models.serving import ModelBook
from statmuse_shared.platform.broker import make_broker
from statmuse_shared.platform.db import Database
from statmuse_shared.platform.runtime import service_app


def build_runtime(
    settings: PredictorSettings,
    *,
    book: ModelBook | None = None,
    predictions: PredictionRepository | None = None,
) -> PredictorRuntime:
    """The runtime `create_app` serves; tests pass in-memory `book` and `predictions`."""
    broker = make_broker(
        settings.kafka_bootstrap_servers,
        client_id=PredictorRuntime.service,
        auth=settings.kafka_auth,
    )
    wired = channels(settings)
    broker.include_router(wired.router)
    db = Database(settings.dsn)
    if book is None:
        book = ModelBook(store=open_store(settings.artifact_store_url), ab_share=settings.ab_share)
    return PredictorRuntime(
        settings=settings,
        broker=broker,
        db=db,
        book=book,
        predictions=PostgresPredictions(db) if predictions is None else predictions,
        publish_predictions=wired.predictions,
        publish_props=wired.props,
    )


def create_app(settings: PredictorSettings) -> Starlette:
    return service_app(build_runtime(settings))
