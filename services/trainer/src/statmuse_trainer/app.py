"""create_app(settings): the trainer's consumers plus /health, /ready and /metrics and, when
`schedule_enabled` is on, the daily monitor and retrain requests and the weekly full retrain
request (one replica at a time, by PostgreSQL advisory lock; see schedule.py)."""

import contextlib
import logging
from collections.abc import AsyncIterator
from functools import partial

from starlette.applications import Starlette

from statmuse_shared.models.artifacts import open_store
from statmuse_shared.platform.http import worker_app
from statmuse_shared.platform.legacy import build_runtime
from statmuse_shared.platform.runtime import background
from statmuse_trainer.handlers import register
from statmuse_trainer.monitoring.jobs import restore_gauges
from statmuse_trainer.schedule import Jobs, run_schedule
from statmuse_trainer.settings import TrainerSettings

SERVICE = "trainer"
log = logging.getLogger(__name__)


def create_app(settings: TrainerSettings) -> Starlette:
    rt = build_runtime(
        service=SERVICE,
        settings=settings,
        register=partial(register, settings=settings),
        state={"store": open_store(settings.artifact_store_url)},
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with rt.lifespan(app):
            pool = rt.state["pool"]
            try:
                await restore_gauges(pool=pool)
            except Exception:  # the gauges are a convenience; never a reason not to start
                log.exception("could not restore the monitoring gauges")
            work = None
            if settings.schedule_enabled:
                work = run_schedule(Jobs(pool=pool, broker=rt.broker, settings=settings))
            async with background(work):
                yield

    app = worker_app(service=SERVICE, ready=rt.ready, lifespan=lifespan)
    app.state.service_state = rt.state
    return app
