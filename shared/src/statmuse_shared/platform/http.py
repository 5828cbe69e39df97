"""The small HTTP face every worker service has: /health, /ready and /metrics.

/health says the process is alive; /ready answers 503 until the service's own dependency
checks pass, so orchestrators route traffic (and `statmuse up` waits) only to ready services.
"""

from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

ReadyCheck = Callable[[], Awaitable[dict[str, bool]]]


def health_routes(service: str, ready: ReadyCheck) -> list[Route]:
    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok", "service": service})

    async def readiness(_: Request) -> Response:
        try:
            checks = await ready()
        except Exception as exc:  # a failing check means "not ready", never a 500
            return JSONResponse(
                {"status": "unavailable", "service": service, "error": str(exc)},
                status_code=503,
                headers={"Retry-After": "1"},
            )
        ok = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ok else "unavailable", "service": service, "checks": checks},
            status_code=200 if ok else 503,
            headers={} if ok else {"Retry-After": "1"},
        )

    async def metrics(_: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return [
        Route("/health", health),
        Route("/ready", readiness),
        Route("/metrics", metrics),
    ]


def worker_app(
    *,
    service: str,
    ready: ReadyCheck,
    lifespan: Callable[[Starlette], AbstractAsyncContextManager[Any]],
    routes: Sequence[BaseRoute] = (),
) -> Starlette:
    return Starlette(routes=[*health_routes(service, ready), *routes], lifespan=lifespan)
