"""The trainer's composition root: `build_runtime(settings)` wires the broker (with the
trainer's router), the database, the repositories, the artifact store and the publishers;
`create_app(settings)` is the service: its consumers plus /health, /ready and /metrics, the
monitoring gauges restored at start and, when `schedule_enabled` is on, the daily and weekly
jobs (schedule.py)."""

from functools import partial

from starlette.applications import Starlette

from statmuse_shared.models.artifacts import ArtifactStore, open_store
from statmuse_shared.platform.broker import make_broker
from statmuse_shared.platform.db import Database
from statmuse_shared.platform.runtime import service_app
from statmuse_shared.platform.scheduler import Clock, utc_now
from statmuse_trainer.adapters.examples import PostgresExamples
from statmuse_trainer.adapters.mlflow_registry import MlflowRegistry
from statmuse_trainer.adapters.monitoring import PostgresMonitor
from statmuse_trainer.adapters.scheduled_runs import PostgresScheduledRuns
from statmuse_trainer.handlers import channels
from statmuse_trainer.ports import (
    ExampleRepository,
    MonitorRepository,
    RegistryRepository,
    ScheduledRuns,
)
from statmuse_trainer.runtime import TrainerRuntime
from statmuse_trainer.schedule import run_schedule
from statmuse_trainer.settings import TrainerSettings


def build_runtime(
    settings: TrainerSettings,
    *,
    examples: ExampleRepository | None = None,
    registry: RegistryRepository | None = None,
    monitor: MonitorRepository | None = None,
    runs: ScheduledRuns | None = None,
    store: ArtifactStore | None = None,
    clock: Clock = utc_now,
) -> TrainerRuntime:
    """The runtime `create_app` serves and the one-shot commands use; tests pass in-memory
    repositories and artifact stores."""
    broker = make_broker(
        settings.kafka_bootstrap_servers, client_id=TrainerRuntime.service, auth=settings.kafka_auth
    )
    wired = channels(settings)
    broker.include_router(wired.router)
    db = Database(settings.dsn)
    return TrainerRuntime(
        settings=settings,
        broker=broker,
        db=db,
        examples=PostgresExamples(db) if examples is None else examples,
        registry=MlflowRegistry(
            db, settings.mlflow_tracking_uri, artifact_location=settings.mlflow_artifact_location
        )
        if registry is None
        else registry,
        monitor=PostgresMonitor(db) if monitor is None else monitor,
        runs=PostgresScheduledRuns(db) if runs is None else runs,
        store=open_store(settings.artifact_store_url) if store is None else store,
        publish_models=wired.models,
        publish_train_requests=wired.train_requests,
        publish_ab_tests=wired.ab_tests,
        clock=clock,
    )


def create_app(settings: TrainerSettings) -> Starlette:
    rt = build_runtime(settings)
    return service_app(rt, work=partial(run_schedule, rt) if settings.schedule_enabled else None)
