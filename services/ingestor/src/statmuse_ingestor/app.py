"""create_app(settings): the ingestor's long-running process (/health, /ready, /metrics).

It publishes but does not consume; scheduled daily ingest arrives with the ingestor issue.
"""

from typing import Any

from faststream.kafka import KafkaBroker
from starlette.applications import Starlette

from statmuse_ingestor.settings import IngestorSettings
from statmuse_shared.runtime import consumer_app

SERVICE = "ingestor"


def _no_subscribers(_broker: KafkaBroker, _state: dict[str, Any]) -> None:
    """The ingestor publishes only."""


def create_app(settings: IngestorSettings) -> Starlette:
    return consumer_app(service=SERVICE, settings=settings, register=_no_subscribers, consume=False)
