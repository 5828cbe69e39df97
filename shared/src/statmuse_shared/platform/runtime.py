"""Process plumbing every service shares: the consumer app shell, `serve` and `migrate`.

A worker service supplies `register(broker, state)` (its subscribers) and gets back an ASGI app
whose lifespan opens the asyncpg pool and the broker and closes both in its `finally`.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import typer
from faststream.kafka import KafkaBroker
from starlette.applications import Starlette

from statmuse_shared.platform.broker import make_broker
from statmuse_shared.platform.db import create_pool
from statmuse_shared.platform.http import worker_app
from statmuse_shared.platform.logging import setup_logging
from statmuse_shared.platform.settings import BaseServiceSettings

Register = Callable[[KafkaBroker, dict[str, Any]], None]


@dataclass
class Runtime:
    """A service's long-lived resources: the broker, the pool (opened in `lifespan`) and the
    state its handlers share, plus the readiness check."""

    broker: KafkaBroker
    state: dict[str, Any]
    lifespan: Callable[[Any], AbstractAsyncContextManager[None]]
    ready: Callable[[], Awaitable[dict[str, bool]]]


def build_runtime(
    *,
    service: str,
    settings: BaseServiceSettings,
    register: Register,
    state: dict[str, Any] | None = None,
    on_start: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
    consume: bool = True,
) -> Runtime:
    """With `consume=False` the broker only connects for publishing (no subscribers start)."""
    broker = make_broker(settings.kafka_bootstrap_servers, client_id=service)
    shared_state: dict[str, Any] = {} if state is None else state
    shared_state["broker"] = broker
    register(broker, shared_state)

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        shared_state["pool"] = await create_pool(settings.dsn, max_size=4)
        try:
            if on_start is not None:
                await on_start(shared_state)
            await (broker.start() if consume else broker.connect())
            yield
        finally:
            # Stopping the broker lets the handler in hand finish and commits its offsets.
            await broker.stop()
            await shared_state["pool"].close()

    async def ready() -> dict[str, bool]:
        pool = shared_state.get("pool")
        return {
            "postgres": pool is not None and await pool.fetchval("SELECT 1") == 1,
            "kafka": await broker.ping(timeout=2),
        }

    return Runtime(broker, shared_state, lifespan, ready)


def consumer_app(
    *,
    service: str,
    settings: BaseServiceSettings,
    register: Register,
    state: dict[str, Any] | None = None,
    consume: bool = True,
) -> Starlette:
    """The app of a service whose work is Kafka subscribers (plus /health, /ready, /metrics)."""
    rt = build_runtime(
        service=service, settings=settings, register=register, state=state, consume=consume
    )
    app = worker_app(service=service, ready=rt.ready, lifespan=rt.lifespan)
    app.state.service_state = rt.state
    return app


def serve(
    service: str, app: Any, settings: BaseServiceSettings, *, port: int | None = None
) -> None:
    """Run a service's ASGI app under uvicorn; SIGTERM drains in-flight work, then lifespan
    shutdown stops consumers (committing offsets) and closes pools."""
    import uvicorn

    setup_logging(service, level=settings.log_level, json_lines=settings.log_json)
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port if port is None else port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=20,
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
