"""create_app(settings): the features consumer plus /health, /ready and /metrics, and the
reconcile task that, once idle, catches up with the team boxes other instances stored and
recomputes vectors made stale by late team box scores."""

import contextlib
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

from starlette.applications import Starlette

from statmuse_features.engine import Engine
from statmuse_features.handlers import publish_vectors, register, report
from statmuse_features.settings import FeaturesSettings
from statmuse_shared.contract.messages import FeaturesComputed
from statmuse_shared.platform.http import worker_app
from statmuse_shared.platform.legacy import build_runtime
from statmuse_shared.platform.runtime import background

SERVICE = "features"


async def _start(state: dict[str, Any]) -> None:
    # A member of the consumer group: it owns no partition until the group assigns some.
    engine = Engine(state["pool"], owned=frozenset())
    await engine.load()
    state["engine"] = engine


def create_app(settings: FeaturesSettings) -> Starlette:
    rt = build_runtime(
        service=SERVICE,
        settings=settings,
        register=partial(register, settings=settings),
        on_start=_start,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with rt.lifespan(app):
            engine: Engine = rt.state["engine"]

            async def publish(vectors: list[FeaturesComputed]) -> None:
                await publish_vectors(rt.broker, vectors)
                report(engine)

            async with background(
                engine.reconcile_when_idle(publish, idle_s=settings.reconcile_idle_s)
            ):
                yield

    app = worker_app(service=SERVICE, ready=rt.ready, lifespan=lifespan)
    app.state.service_state = rt.state
    return app
