"""statmuse-features: serve, migrate, build."""

import asyncio
import contextlib
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

    from statmuse_features.app import build_runtime
    from statmuse_features.handlers import publish_vectors
    from statmuse_shared.contract.messages import FeaturesComputed

    # Standalone: every player. The broker connects only to publish (a build without
    # publishing needs no Kafka).
    rt = build_runtime(settings, standalone=True)
    async with contextlib.AsyncExitStack() as stack:
        if publish:
            await stack.enter_async_context(rt.running(consume=False))
        else:
            await rt.db.open()
            stack.push_async_callback(rt.db.close)
            await rt.started()
        with Progress() as bar:
            task = bar.add_task("players", total=None)

            async def on_chunk(vectors: list[FeaturesComputed], players: int) -> None:
                if publish:
                    await publish_vectors(rt, vectors)
                bar.update(task, advance=players)

            return await rt.engine.build(on_chunk=on_chunk)


def main() -> None:
    app()
