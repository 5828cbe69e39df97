"""API keys, rate limiting and the request-size limit.

`install` adds one ASGI middleware that, in order: refuses bodies over `max_body_bytes` (413,
from Content-Length and again while a chunked body streams), rate limits every client (429),
and, when `require_key_for_reads` is set, asks for a "read" key on the read endpoints (401/403).
Writes and admin routes declare `Depends(require_scope("write" | "admin"))` themselves.

The rate limit is a fixed one-minute window counted in Redis (INCR + EXPIRE in one MULTI), so
every gateway process sharing that Redis shares the budget. The client is the API key when a
valid one is sent, else the peer address. X-Forwarded-For is ignored on purpose: anyone can
write it, so honouring it would let a client pick a fresh budget per request; behind a trusted
proxy, run uvicorn with `--proxy-headers` so `request.client` is already the real client.
Redis is only a counter here: when it is down or slow the request is served (fail open).
"""

import json
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, FastAPI, HTTPException, Request, Security
from fastapi.security import APIKeyHeader
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from statmuse_gateway import metrics
from statmuse_gateway.adapters import apikeys
from statmuse_gateway.adapters.apikeys import ApiKey
from statmuse_gateway.adapters.apikeys import Scope as KeyScope
from statmuse_gateway.settings import GatewaySettings

log = logging.getLogger(__name__)

HEADER = "X-API-Key"
WINDOW_SECONDS = 60
# Probes and scrapes are never limited: a limited /health would restart a healthy gateway.
RATE_EXEMPT = frozenset({"/health", "/ready", "/metrics"})
# The POSTs that only read (predictions and context); other /api POSTs are writes or admin.
READ_POSTS = frozenset(
    {"/api/predict", "/api/batch_predict", "/api/player_context", "/api/batch_player_context"}
)
_CHALLENGE = {"WWW-Authenticate": f'ApiKey header="{HEADER}"'}
_RESOLVED = "statmuse.api_key"  # scope["state"] entry: (token, key), one lookup per request
_REDIS_BACKOFF_S = 5.0  # after a Redis error, skip it this long instead of timing out each time
_WARN_EVERY_S = 60.0


# --- pure logic -------------------------------------------------------------------------------


def window(now: float, period: int = WINDOW_SECONDS) -> tuple[int, int]:
    """(index of the fixed window holding `now`, whole seconds until it ends, at least 1)."""
    index = math.floor(now / period)
    return index, max(1, math.ceil((index + 1) * period - now))


def needs_read_key(method: str, path: str) -> bool:
    """Whether `require_key_for_reads` covers this request."""
    if not path.startswith("/api/"):
        return False
    return method in ("GET", "HEAD") or (method == "POST" and path in READ_POSTS)


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    detail: str

    @property
    def headers(self) -> dict[str, str]:
        return dict(_CHALLENGE) if self.status == 401 else {}


def authorize(token: str | None, key: ApiKey | None, needed: KeyScope) -> Refusal | None:
    """None when `key` (looked up from `token`) may do what needs `needed`."""
    if not token:
        return Refusal(401, f"an API key is required: send it in the {HEADER} header")
    if key is None:
        return Refusal(403, "invalid API key")
    if key.revoked:
        return Refusal(403, f"API key {key.key_id} was revoked")
    if not key.allows(needed):
        return Refusal(403, f"API key {key.key_id} lacks the {needed!r} scope")
    return None


# --- key lookup -------------------------------------------------------------------------------


class KeysUnavailableError(RuntimeError):
    """The key table could not be read (no pool yet, or PostgreSQL is down)."""


async def lookup(scope: Scope, service_state: dict[str, Any], token: str) -> ApiKey | None:
    """The key behind `token`, looked up once per request (the middleware and a route's
    dependency share the answer)."""
    per_request = scope.setdefault("state", {})
    cached = per_request.get(_RESOLVED)
    if cached is not None and cached[0] == token:
        return cached[1]  # type: ignore[no-any-return]
    pool = service_state.get("pool")
    if pool is None:
        raise KeysUnavailableError("the database pool is not open")
    try:
        key = await apikeys.authenticate(conn=pool, token=token)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise KeysUnavailableError(str(exc)) from exc
    per_request[_RESOLVED] = (token, key)
    return key


_api_key_header = APIKeyHeader(
    name=HEADER,
    auto_error=False,
    description="An API key from `statmuse-gateway apikey create` (smp_<id>_<secret>)",
)


def require_scope(needed: KeyScope) -> Callable[..., Awaitable[ApiKey]]:
    """A dependency: the request's API key, which must hold `needed` (or a higher scope).
    Missing key: 401; unknown, wrong, revoked or too weak a key: 403."""
    if needed not in apikeys.SCOPES:
        raise ValueError(f"unknown scope {needed!r}")

    async def api_key(
        request: Request, token: Annotated[str | None, Security(_api_key_header)]
    ) -> ApiKey:
        key = None
        if token:
            try:
                key = await lookup(request.scope, request.app.state.service_state, token)
            except KeysUnavailableError as exc:
                raise HTTPException(
                    503, "API keys cannot be checked right now", headers={"Retry-After": "5"}
                ) from exc
        refusal = authorize(token, key, needed)
        if refusal is not None:
            raise HTTPException(refusal.status, refusal.detail, headers=refusal.headers)
        assert key is not None
        return key

    return api_key


# For routes that want the key itself: `key: AdminKey` (or `Depends(require_scope("admin"))`).
WriteKey = Annotated[ApiKey, Depends(require_scope("write"))]
AdminKey = Annotated[ApiKey, Depends(require_scope("admin"))]


# --- rate limiting ----------------------------------------------------------------------------


class ThrottledLog:
    """A warning at most once per minute: an outage must not flood the log, one per request."""

    def __init__(self, every_s: float = _WARN_EVERY_S) -> None:
        self.every_s = every_s
        self._last = -math.inf

    def warning(self, message: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last >= self.every_s:
            self._last = now
            log.warning(message, *args)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    count: int
    limit: int
    retry_after: int

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.count)


class RateLimiter:
    """A fixed-window counter per client in Redis, shared by every gateway process."""

    def __init__(
        self,
        *,
        redis: Callable[[], Redis | None],
        limit: int,
        period: int = WINDOW_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis
        self.limit = limit
        self.period = period
        # Wall-clock time: the window must be the same in every process.
        self.clock = clock
        self._skip_until = 0.0
        self._warn = ThrottledLog()

    async def hit(self, kind: str, ident: str) -> Decision | None:
        """Count one request of client (`kind`, `ident`); None when Redis cannot say."""
        client = self.redis()
        if client is None or time.monotonic() < self._skip_until:
            return None
        now = self.clock()
        index, retry_after = window(now, self.period)
        bucket = f"ratelimit:{kind}:{ident}:{index}"
        try:
            async with client.pipeline(transaction=True) as pipe:
                pipe.incr(bucket)
                pipe.expire(bucket, self.period + 1)
                count, _ = await pipe.execute()
        except (RedisError, OSError) as exc:
            self._skip_until = time.monotonic() + _REDIS_BACKOFF_S
            self._warn.warning("redis unavailable, not rate limiting: %s", exc)
            return None
        return Decision(int(count) <= self.limit, int(count), self.limit, retry_after)


# --- the middleware ---------------------------------------------------------------------------


class BodyTooLargeError(HTTPException):
    """Raised from `receive` when a streamed body passes the limit. An HTTPException, so
    FastAPI's body parsing passes it on (a 413) instead of calling it a malformed body (400)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")


async def _send_json(
    send: Send, status: int, detail: str, headers: dict[str, str] | None = None
) -> None:
    body = json.dumps({"detail": detail}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class SecurityMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: GatewaySettings,
        service_state: dict[str, Any],
        limiter: RateLimiter,
    ) -> None:
        self.app = app
        self.settings = settings
        self.state = service_state
        self.limiter = limiter
        self._warn = ThrottledLog()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        headers = Headers(scope=scope)
        limit = self.settings.max_body_bytes
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await _send_json(send, 413, f"request body larger than {limit} bytes")
            return

        token = headers.get(HEADER) or None
        key: ApiKey | None = None
        keys_down = False
        if token and path not in RATE_EXEMPT:
            try:
                key = await lookup(scope, self.state, token)
            except KeysUnavailableError as exc:
                keys_down = True
                self._warn.warning("API keys unavailable, limiting by address: %s", exc)

        extra: dict[str, str] = {}
        if path not in RATE_EXEMPT and method != "OPTIONS":
            valid = key is not None and not key.revoked
            kind, ident = (
                ("key", key.key_id) if key is not None and valid else ("ip", _client(scope))
            )
            decision = await self.limiter.hit(kind, ident)
            if decision is not None:
                extra = {
                    "X-RateLimit-Limit": str(decision.limit),
                    "X-RateLimit-Remaining": str(decision.remaining),
                }
                if not decision.allowed:
                    metrics.RATE_LIMITED.labels(kind).inc()
                    who = "API key" if kind == "key" else "client address"
                    await _send_json(
                        send, 429,
                        f"rate limit exceeded: {decision.limit} requests per minute per {who}; "
                        f"retry in {decision.retry_after} s",
                        {"Retry-After": str(decision.retry_after), **extra},
                    )  # fmt: skip
                    return

        if self.settings.require_key_for_reads and needs_read_key(method, path):
            if keys_down:
                await _send_json(send, 503, "API keys cannot be checked right now",
                                 {"Retry-After": "5"})  # fmt: skip
                return
            refusal = authorize(token, key, "read")
            if refusal is not None:
                await _send_json(send, refusal.status, refusal.detail, refusal.headers)
                return

        await self._call_limited(scope, receive, send, limit, extra)

    async def _call_limited(
        self, scope: Scope, receive: Receive, send: Send, limit: int, extra: dict[str, str]
    ) -> None:
        """Run the app, counting body bytes as they stream in (chunked bodies have no
        Content-Length to check up front)."""
        received = 0
        started = False
        extra_raw = [(k.lower().encode(), v.encode()) for k, v in extra.items()]

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLargeError(limit)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if extra_raw:
                    message = {**message, "headers": [*message.get("headers", []), *extra_raw]}
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLargeError as exc:
            if started:
                raise
            await _send_json(send, 413, str(exc.detail))


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def install(app: FastAPI, settings: GatewaySettings, state: dict[str, Any]) -> None:
    """Add the security middleware to `app`. The rate limiter counts in the lifespan's Redis
    client (the context cache's), so there is no second client to open or close."""

    def redis() -> Redis | None:
        cache = state.get("context_cache")
        return getattr(cache, "redis", None)

    limiter = RateLimiter(redis=redis, limit=settings.rate_limit_per_minute)
    app.state.rate_limiter = limiter  # tests freeze its clock
    # Appended, not add_middleware: that would put it outside CORS, and a 429, 401 or 413
    # without CORS headers reaches browser code as an opaque network error. Appended, it runs
    # inside CORS (and inside anything added later, such as the request metrics).
    app.user_middleware.append(
        Middleware(SecurityMiddleware, settings=settings, service_state=state, limiter=limiter)
    )
