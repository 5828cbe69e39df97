"""A service's runtime: its long-lived dependencies as one typed object, and its process.

Each service subclasses `ServiceRuntime` with what it needs (models, caches, repositories,
publishers) and builds it once, in `create_app` or in a one-shot command. `running()` opens
the database, makes the runtime what handlers receive (`Context(RUNTIME)`), starts the
consumers (or only connects, to publish), and undoes all of it in reverse when the block
ends. `service_app` is the ASGI app of a service whose work is its consumers (plus /health,
/ready and /metrics); `service_cli` its console script with `serve` and `migrate`.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Self, TypeVar

import typer
from faststream.kafka import KafkaBroker
from starlette.applications import Starlette

from statmuse_shared.platform.db import Database
from statmuse_shared.platform.http import worker_app
from statmuse_shared.platform.logging import setup_logging
from statmuse_shared.platform.settings import BaseServiceSettings

S = TypeVar("S", bound=BaseServiceSettings)

# The FastStream context key handlers read their service's runtime from:
# `rt: Annotated[PredictorRuntime, Context(RUNTIME)]`.
RUNTIME = "runtime"


@dataclass(kw_only=True)
class ServiceRuntime(Generic[S]):
    """What every service holds for its lifetime: its settings, its broker (with its routers
    included) and its database."""

    service: ClassVar[str] = "service"

    settings: S
    broker: KafkaBroker
    db: Database

    async def started(self) -> None:
        """Called once the database is open, before any consumer starts (load state here)."""

    def bind(self) -> None:
        """Make this runtime what the broker's handlers receive (`Context(RUNTIME)`); `running`
        does it, a test with `TestKafkaBroker` calls it itself."""
        self.broker.context.set_global(RUNTIME, self)

    async def ready(self) -> dict[str, bool]:
        return {"postgres": await self.db.ping(), "kafka": await self.broker.ping(timeout=2)}

    @asynccontextmanager
    async def running(self, *, consume: bool = True) -> AsyncIterator[Self]:
        """The service's resources for the block. `consume=False` connects the broker for
        publishing only (a one-shot command)."""
        await self.db.open()
        try:
            self.bind()
            await self.started()
            await (self.broker.start() if consume else self.broker.connect())
            yield self
        finally:
            # Stopping the broker lets the handler in hand finish and commits its offsets.
            await self.broker.stop()
            await self.db.close()

    @asynccontextmanager
    async def database_only(self) -> AsyncIterator[Self]:
        """Only the database for the block, no broker: a one-shot command that reads or
        writes the service's own tables keeps working while Kafka is down."""
        await self.db.open()
        try:
            yield self
        finally:
            await self.db.close()


def service_app(
    rt: ServiceRuntime[Any], *, work: Callable[[], Awaitable[None]] | None = None
) -> Starlette:
    """The ASGI app of a service whose work is Kafka consumers, plus `work` (a scheduled or
    idle-time job) running beside them, started and stopped with the app."""

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with rt.running(), background(None if work is None else work()):
            yield

    app = worker_app(service=rt.service, ready=rt.ready, lifespan=lifespan)
    app.state.runtime = rt
    return app


@asynccontextmanager
async def background(work: Awaitable[None] | None) -> AsyncIterator[None]:
    """Run `work` as a task for the duration of the block, then cancel it and wait for it
    (a service's scheduled or idle-time job, started and stopped with its lifespan)."""
    task = None if work is None else asyncio.ensure_future(work)
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def serve(
    service: str, app: Any, settings: BaseServiceSettings, *, port: int | None = None
) -> None:
    """Run a service's ASGI app under uvicorn; SIGTERM drains in-flight work, then lifespan
    shutdown stops consumers (committing offsets) and closes pools. uvicorn runs on uvloop
    with the httptools parser where they are installed (they are dependencies of this
    library), on asyncio and h11 elsewhere."""
    import uvicorn

    setup_logging(service, level=settings.log_level, json_lines=settings.log_json)
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port if port is None else port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=20,
        # uvicorn would trust X-Forwarded-For from loopback by default: an app that wants a
        # proxy's headers installs the middleware itself, for the proxies it is told to trust.
        proxy_headers=False,
    )


def migrate_schema(settings: BaseServiceSettings, schema: str) -> int:
    from statmuse_shared.platform.migrations import migrate

    return len(asyncio.run(migrate(settings.dsn, schemas=[schema])))


def service_cli(
    *,
    service: str,
    schema: str,
    settings: Callable[[], BaseServiceSettings],
    create_app: Callable[[Any], Any],
    help: str | None = None,
) -> typer.Typer:
    """A service's console script with `serve` and `migrate`; services add their own commands."""
    cli = typer.Typer(add_completion=False, no_args_is_help=True, help=help)

    @cli.command("serve")
    def serve_command(port: int | None = typer.Option(None, help="HTTP port")) -> None:
        """Run the service."""
        loaded = settings()
        serve(service, create_app(loaded), loaded, port=port)

    @cli.command()
    def migrate() -> None:
        """Apply this service's schema migrations."""
        applied = migrate_schema(settings(), schema)
        typer.echo(f"{schema}: applied {applied} migration(s)")

    return cli
