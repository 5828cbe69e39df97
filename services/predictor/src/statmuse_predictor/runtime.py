"""The predictor's runtime: everything its handlers use, built once by `app.build_runtime`."""

from dataclasses import dataclass
from typing import Annotated, ClassVar

from faststream import Context
from faststream.kafka.publisher.usecase import DefaultPublisher

from statmuse_predictor.ports import PredictionRepository
from statmuse_predictor.settings import PredictorSettings
from statmuse_shared.models.serving import ModelBook
from statmuse_shared.platform.runtime import RUNTIME, ServiceRuntime


@dataclass(kw_only=True)
class PredictorRuntime(ServiceRuntime[PredictorSettings]):
    service: ClassVar[str] = "predictor"

    book: ModelBook  # the models served, production and (A/B on) the challengers
    predictions: PredictionRepository
    publish_predictions: DefaultPublisher  # nba.predictions.v1
    publish_props: DefaultPublisher  # nba.props.priced.v1


# What a handler declares to receive the runtime.
Runtime = Annotated[PredictorRuntime, Context(RUNTIME)]
