"""The runtime as a FastAPI dependency: `rt: Gateway` in a route's signature."""

from typing import Annotated

from fastapi import Depends, Request

from statmuse_gateway.runtime import GatewayRuntime


async def runtime(request: Request) -> GatewayRuntime:
    # async: FastAPI runs a plain `def` dependency in a worker thread, a hop per request.
    rt: GatewayRuntime = request.app.state.runtime
    return rt


Gateway = Annotated[GatewayRuntime, Depends(runtime)]
