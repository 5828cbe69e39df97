"""statmuse-features: serve, migrate, build."""

import asyncio
import time
from typing import Annotated

import typer

from statmuse_features.settings import FeaturesSettings
from statmuse_shared.platform.runtime import service_cli


def _settings() -> FeaturesSettings:
    return FeaturesSettings()  # DATABASE_URL comes from the env


def _create_app(settings: FeaturesSettings) -> object:
    from statmuse_features.app import create_app

    return create_app(settings)


app = service_cli(
    service="features",
    schema="features",
    settings=_settings,
    create_app=_create_app,
    help=__doc__,
)


@app.command()
def build(
    publish: Annotated[bool, typer.Option(help="Also publish the vectors that changed")] = True,
) -> None:
    """Recompute every feature vector from the games this service has stored (the batch
    path); only vectors that changed are written and published."""
    settings = _settings()
    started = time.perf_counter()
    changed = asyncio.run(_build(settings, publish=publish))
    typer.echo(f"{changed} vectors new or changed in {time.perf_counter() - started:.1f}s")


async def _build(settings: FeaturesSettings, *, publish: bool) -> int:
    from rich.progress import Progress

    from statmuse_features.engine import Engine
    from statmuse_features.handlers import publish_vectors
    from statmuse_shared.contract.messages import FeaturesComputed
    from statmuse_shared.platform.broker import make_broker
    from statmuse_shared.platform.db import create_pool

    pool = await create_pool(settings.dsn, max_size=4)
    broker = make_broker(settings.kafka_bootstrap_servers, client_id="features-build")
    if publish:
        await broker.connect()
    try:
        engine = Engine(pool)
        await engine.load()
        with Progress() as bar:
            task = bar.add_task("players", total=None)

            async def on_chunk(vectors: list[FeaturesComputed], players: int) -> None:
                if publish:
                    await publish_vectors(broker, vectors)
                bar.update(task, advance=players)

            return await engine.build(on_chunk=on_chunk)
    finally:
        await broker.stop()
        await pool.close()


def main() -> None:
    app()
