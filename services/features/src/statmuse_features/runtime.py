"""The features service's runtime: everything its handlers use, built once by
`app.build_runtime`."""

from dataclasses import dataclass
from typing import Annotated, ClassVar

from faststream import Context
from faststream.kafka.publisher.usecase import DefaultPublisher

from statmuse_features.engine import Engine
from statmuse_features.ports import FeatureRepository
from statmuse_features.settings import FeaturesSettings
from statmuse_shared.platform.runtime import RUNTIME, ServiceRuntime


@dataclass(kw_only=True)
class FeaturesRuntime(ServiceRuntime[FeaturesSettings]):
    service: ClassVar[str] = "features"

    engine: Engine  # the league and the player states, over `features`
    features: FeatureRepository
    publish_features: DefaultPublisher  # topics.FEATURES, packed vectors

    async def started(self) -> None:
        """The league from the stored team boxes (player states load lazily)."""
        await self.engine.load()


# What a handler declares to receive the runtime.
Runtime = Annotated[FeaturesRuntime, Context(RUNTIME)]
