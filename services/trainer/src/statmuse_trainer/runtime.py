"""The trainer's runtime: everything its handlers, scheduled jobs and one-shot commands use,
built once by `app.build_runtime`."""

import logging
from dataclasses import dataclass, field
from typing import Annotated, ClassVar

from faststream import Context
from faststream.kafka.publisher.usecase import DefaultPublisher

from statmuse_shared.models.artifacts import ArtifactStore
from statmuse_shared.platform.runtime import RUNTIME, ServiceRuntime
from statmuse_shared.platform.scheduler import Clock, utc_now
from statmuse_trainer.ports import (
    ExampleRepository,
    MonitorRepository,
    RegistryRepository,
    ScheduledRuns,
)
from statmuse_trainer.settings import TrainerSettings

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class TrainerRuntime(ServiceRuntime[TrainerSettings]):
    service: ClassVar[str] = "trainer"

    examples: ExampleRepository
    registry: RegistryRepository
    monitor: MonitorRepository
    runs: ScheduledRuns
    store: ArtifactStore  # where model artifacts go
    publish_models: DefaultPublisher  # nba.models.published.v1
    publish_train_requests: DefaultPublisher  # nba.train.requests.v1 (drift, schedule)
    publish_ab_tests: DefaultPublisher  # nba.models.ab.v1 (the daily A/B reports)
    clock: Clock = field(default=utc_now)  # "now" of the drift cooldown and the schedule

    async def ready(self) -> dict[str, bool]:
        """PostgreSQL and the broker, and the model registry (MLflow)."""
        return {**await super().ready(), "mlflow": await self.registry.ping()}

    async def started(self) -> None:
        """The monitoring gauges from the newest stored day, so a restart does not blank
        them (a convenience: never a reason not to start)."""
        from statmuse_trainer.monitoring.jobs import restore_gauges

        try:
            await restore_gauges(self)
        except Exception:
            log.exception("could not restore the monitoring gauges")


# What a handler declares to receive the runtime.
Runtime = Annotated[TrainerRuntime, Context(RUNTIME)]
