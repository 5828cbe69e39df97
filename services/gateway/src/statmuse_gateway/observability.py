"""Request metrics by route template (never by raw path: ids would explode the labels).

A plain ASGI middleware: Starlette's `@app.middleware("http")` wraps every response in a
stream and costs far more per request than the counting does."""

import time

from fastapi import FastAPI
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from statmuse_gateway import metrics


def route_template(app: ASGIApp, scope: Scope) -> str:
    for route in getattr(app, "routes", ()):
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return str(getattr(route, "path", "other"))
    return "unmatched"


class RequestMetrics:
    def __init__(self, app: ASGIApp, router: ASGIApp) -> None:
        self.app = app
        self.router = router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            # The router leaves the route it matched in the scope; matching again (every
            # route's regex, in order) only when it did not get that far.
            matched = getattr(scope.get("route"), "path", None)
            route = matched if isinstance(matched, str) else route_template(self.router, scope)
            method = scope["method"]
            metrics.LATENCY.labels(method, route).observe(time.perf_counter() - started)
            metrics.REQUESTS.labels(method, route, str(status)).inc()


def install(app: FastAPI) -> None:
    app.add_middleware(RequestMetrics, router=app.router)
