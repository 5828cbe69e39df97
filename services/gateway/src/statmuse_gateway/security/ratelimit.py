"""Rate limiting: one middleware, one decision, made before the route runs.

Every request but the probes (/health, /ready, /metrics) and CORS preflights is counted once
for its client (`limiter.RateLimiter`) and refused with 429 over the limit (Retry-After: the
seconds left in the window; X-RateLimit-Limit and X-RateLimit-Remaining, which every answer
that gets through carries too). The count comes before the route, so before any database
query the request would make. The client is the API key when a valid one is sent, else the
peer address. X-Forwarded-For is ignored on purpose: anyone can write it, so honouring it
would let a client pick a fresh budget per request. Behind a reverse proxy, list it in
GATEWAY_TRUSTED_PROXIES: its X-Forwarded-For (and only its) then names the peer
(`security.headers`, uvicorn's ProxyHeadersMiddleware; uvicorn's own default trust of
loopback is turned off in `serve`).
"""

from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from statmuse_gateway import metrics
from statmuse_gateway.ports import KeysUnavailableError
from statmuse_gateway.security.keys import lookup, token_of
from statmuse_gateway.security.limiter import Decision, ThrottledLog
from statmuse_gateway.security.reply import send_json

if TYPE_CHECKING:
    from statmuse_gateway.runtime import GatewayRuntime

# Probes and scrapes are never limited: a limited /health would restart a healthy gateway.
RATE_EXEMPT = frozenset({"/health", "/ready", "/metrics"})


def limit_headers(decision: Decision) -> list[tuple[bytes, bytes]]:
    return [
        (b"x-ratelimit-limit", str(decision.limit).encode()),
        (b"x-ratelimit-remaining", str(decision.remaining).encode()),
    ]


def refusal(kind: str, decision: Decision) -> tuple[str, dict[str, str]]:
    """The 429's detail and headers."""
    who = "API key" if kind == "key" else "client address"
    detail = (
        f"rate limit exceeded: {decision.limit} requests per minute per {who}; "
        f"retry in {decision.retry_after} s"
    )
    headers = {
        "Retry-After": str(decision.retry_after),
        "X-RateLimit-Limit": str(decision.limit),
        "X-RateLimit-Remaining": str(decision.remaining),
    }
    return detail, headers


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, *, runtime: "GatewayRuntime") -> None:
        self.app = app
        self.rt = runtime
        self._warn = ThrottledLog()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in RATE_EXEMPT or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        kind, ident, limit = await self._client(scope)
        decision = await self.rt.limiter.hit(kind, ident, limit)  # the decision, made here only
        if decision is None:
            await self.app(scope, receive, send)
            return
        if not decision.allowed:
            metrics.RATE_LIMITED.labels(kind).inc()
            await send_json(send, 429, *refusal(kind, decision))
            return
        extra = limit_headers(decision)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _client(self, scope: Scope) -> tuple[str, str, int | None]:
        """("key", its id, its own limit) for a valid API key, else ("ip", the peer address,
        None: the default limit)."""
        token = token_of(scope)
        if token:
            try:
                key = await lookup(scope, self.rt.api_keys, token)
            except KeysUnavailableError as exc:
                self._warn.warning("API keys unavailable, limiting by address: %s", exc)
            else:
                if key is not None and not key.revoked:
                    return "key", key.key_id, key.rate_limit
        client = scope.get("client")
        return "ip", str(client[0]) if client else "unknown", None
