"""API keys, rate limiting and the request-size limit.

`install` adds one ASGI middleware that, in order: refuses bodies over `max_body_bytes` (413,
from Content-Length and again while a chunked body streams), rate limits every client (429),
and, when `require_key_for_reads` is set, asks for a "read" key on the read endpoints (401/403).
Writes and admin routes declare `Depends(require_scope("write" | "admin"))` themselves.

The rate limit is a fixed one-minute window counted in Redis (INCR + EXPIRE in one script), so
every gateway process sharing that Redis shares the budget. The client is the API key when a
valid one is sent, else the peer address. X-Forwarded-For is ignored on purpose: anyone can
write it, so honouring it would let a client pick a fresh budget per request; behind a trusted
proxy, run uvicorn with `--proxy-headers` so `request.client` is already the real client.
Redis is only a counter here: when it is down or slow the request is served (fail open).
`POST /api/predict` counts its request in its own Redis round trip, the prediction cache's
lookup, instead of one more of the middleware's (`DeferredHit`): still once per request, before
any database query, with the same 429.
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
from statmuse_gateway.adapters.cache import Script
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
_DEFERRED = "statmuse.rate_limit"  # scope["state"] entry: the DeferredHit a route settles
# Routes that count their request in their own Redis round trip (see `DeferredHit`).
SETTLED_BY_ROUTE = frozenset({("POST", "/api/predict")})
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


# INCR and, for a new window, EXPIRE, atomically in one command (a MULTI/EXEC pipeline took
# four commands to say the same). The prediction cache's lookup script counts the same way.
_COUNT = Script(
    """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""
)


@dataclass(frozen=True, slots=True)
class Bucket:
    """Where one request is counted: its client's counter for the current window."""

    key: str
    expire_s: int
    retry_after: int


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

    def bucket(self, kind: str, ident: str) -> Bucket | None:
        """Where to count a request of client (`kind`, `ident`) now; None when Redis is not
        to be asked (no client, or backing off after an error)."""
        if self.redis() is None or time.monotonic() < self._skip_until:
            return None
        index, retry_after = window(self.clock(), self.period)
        return Bucket(f"ratelimit:{kind}:{ident}:{index}", self.period + 1, retry_after)

    def decide(self, bucket: Bucket, count: int) -> Decision:
        return Decision(int(count) <= self.limit, int(count), self.limit, bucket.retry_after)

    def failed(self, exc: BaseException) -> None:
        """Redis could not count: serve without limiting, and leave Redis alone for a while."""
        self._skip_until = time.monotonic() + _REDIS_BACKOFF_S
        self._warn.warning("redis unavailable, not rate limiting: %s", exc)

    async def hit(self, kind: str, ident: str) -> Decision | None:
        """Count one request of client (`kind`, `ident`); None when Redis cannot say."""
        bucket = self.bucket(kind, ident)
        client = self.redis()
        if bucket is None or client is None:
            return None
        try:
            count = await _COUNT(client, [bucket.key], [bucket.expire_s])
        except (RedisError, OSError) as exc:
            self.failed(exc)
            return None
        return self.decide(bucket, count)


class DeferredHit:
    """One request's count, left to the route so that it rides in the route's own Redis round
    trip (`/api/predict` counts it in the prediction cache's lookup script). The route settles
    it before its first cache lookup or database query; whatever answer is sent without the
    route having settled it (a body that did not validate, an error) is preceded by the
    middleware settling it alone. Either way every request is counted once, before any
    database work, and a refused one is answered 429 exactly as the middleware would."""

    def __init__(self, limiter: RateLimiter, kind: str, ident: str) -> None:
        self.limiter = limiter
        self.kind = kind
        self.ident = ident
        self.settled = False
        self.decision: Decision | None = None

    @property
    def refused(self) -> bool:
        return self.decision is not None and not self.decision.allowed

    def take(self) -> Bucket | None:
        """The bucket for the route to count in, or None (settled: Redis is not being asked,
        or it is settled already)."""
        if self.settled:
            return None
        bucket = self.limiter.bucket(self.kind, self.ident)
        if bucket is None:
            self.settled = True
        return bucket

    def settle(self, bucket: Bucket, count: int | None, error: BaseException | None) -> None:
        """The route's count in `bucket` (None with the error when Redis could not)."""
        self.settled = True
        if count is None:
            self.limiter.failed(error or RuntimeError("no count"))
            return
        self.decision = self.limiter.decide(bucket, count)
        if self.refused:
            metrics.RATE_LIMITED.labels(self.kind).inc()

    async def settle_alone(self) -> None:
        """Count it in a round trip of its own (the route did not, or cannot wait to)."""
        if self.settled:
            return
        self.settled = True
        self.decision = await self.limiter.hit(self.kind, self.ident)
        if self.refused:
            metrics.RATE_LIMITED.labels(self.kind).inc()

    def headers(self) -> dict[str, str]:
        return _limit_headers(self.decision)

    async def send_refusal(self, send: Send) -> None:
        assert self.decision is not None
        await _send_json(send, 429, *_refusal(self.kind, self.decision))


def _limit_headers(decision: Decision | None) -> dict[str, str]:
    if decision is None:
        return {}
    return {
        "X-RateLimit-Limit": str(decision.limit),
        "X-RateLimit-Remaining": str(decision.remaining),
    }


def _refusal(kind: str, decision: Decision) -> tuple[str, dict[str, str]]:
    """The 429's detail and headers."""
    who = "API key" if kind == "key" else "client address"
    detail = (
        f"rate limit exceeded: {decision.limit} requests per minute per {who}; "
        f"retry in {decision.retry_after} s"
    )
    return detail, {"Retry-After": str(decision.retry_after), **_limit_headers(decision)}


def deferred_hit(scope: Scope) -> DeferredHit | None:
    """The request's count if the middleware left it to the route (see `DeferredHit`)."""
    hit = scope.get("state", {}).get(_DEFERRED)
    return hit if isinstance(hit, DeferredHit) else None


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

        refusal: Refusal | None = None
        if self.settings.require_key_for_reads and needs_read_key(method, path):
            refusal = (
                Refusal(503, "API keys cannot be checked right now")
                if keys_down
                else authorize(token, key, "read")
            )

        extra: dict[str, str] = {}
        hit: DeferredHit | None = None
        if path not in RATE_EXEMPT and method != "OPTIONS":
            valid = key is not None and not key.revoked
            kind, ident = (
                ("key", key.key_id) if key is not None and valid else ("ip", _client(scope))
            )
            if refusal is None and (method, path) in SETTLED_BY_ROUTE:
                hit = DeferredHit(self.limiter, kind, ident)
                scope.setdefault("state", {})[_DEFERRED] = hit
            else:
                decision = await self.limiter.hit(kind, ident)
                extra = _limit_headers(decision)
                if decision is not None and not decision.allowed:
                    metrics.RATE_LIMITED.labels(kind).inc()
                    await _send_json(send, 429, *_refusal(kind, decision))
                    return

        if refusal is not None:
            more = {"Retry-After": "5"} if refusal.status == 503 else refusal.headers
            await _send_json(send, refusal.status, refusal.detail, more)
            return

        await self._call_limited(scope, receive, send, limit, extra, hit)

    async def _call_limited(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        limit: int,
        extra: dict[str, str],
        hit: DeferredHit | None,
    ) -> None:
        """Run the app, counting body bytes as they stream in (chunked bodies have no
        Content-Length to check up front). With a deferred count, settle it (if the route has
        not) before the answer starts, and answer 429 instead when it is refused."""
        received = 0
        started = False
        replaced = False
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
            nonlocal started, replaced
            if replaced:
                return  # the app's answer to a refused request goes nowhere
            if message["type"] == "http.response.start":
                started = True
                more = extra_raw
                if hit is not None:
                    await hit.settle_alone()
                    if hit.refused:  # whatever the app answered (a route sends a stand-in)
                        replaced = True
                        await hit.send_refusal(send)
                        return
                    more = [(k.lower().encode(), v.encode()) for k, v in hit.headers().items()]
                if more:
                    message = {**message, "headers": [*message.get("headers", []), *more]}
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLargeError as exc:
            if started:
                raise
            if hit is not None:
                await hit.settle_alone()
                if hit.refused:
                    await hit.send_refusal(send)
                    return
            await _send_json(send, 413, str(exc.detail))
        finally:
            if hit is not None:
                await hit.settle_alone()  # counted even when no answer was sent


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
