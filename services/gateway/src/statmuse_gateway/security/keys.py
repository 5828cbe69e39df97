"""API keys on requests: who a request's key is (looked up once per request, whoever asks
first), what it may do, the `require_scope` dependency of write and admin routes, and the
middleware that asks for a "read" key on the read endpoints when `require_key_for_reads` is
set. No valid credentials (a missing, malformed, unknown, wrong or revoked key): 401 with a
challenge; a valid key without the scope the request needs: 403; the key table unreadable
(PostgreSQL down): 503."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from statmuse_gateway.adapters import apikeys
from statmuse_gateway.adapters.apikeys import ApiKey
from statmuse_gateway.adapters.apikeys import Scope as KeyScope
from statmuse_gateway.dependencies import Gateway
from statmuse_gateway.ports import ApiKeys, KeysUnavailableError
from statmuse_gateway.security.reply import send_json

if TYPE_CHECKING:
    from statmuse_gateway.runtime import GatewayRuntime

HEADER = "X-API-Key"
# The POSTs that only read (predictions and context); other /api POSTs are writes or admin.
READ_POSTS = frozenset(
    {"/api/predict", "/api/batch_predict", "/api/player_context", "/api/batch_player_context"}
)
_CHALLENGE = {"WWW-Authenticate": f'ApiKey header="{HEADER}"'}
_RESOLVED = "statmuse.api_key"  # scope["state"] entry: (token, key or the failure)


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
        return Refusal(401, "invalid API key")
    if key.revoked:
        return Refusal(401, f"API key {key.key_id} was revoked")
    if not key.allows(needed):
        return Refusal(403, f"API key {key.key_id} lacks the {needed!r} scope")
    return None


def token_of(scope: Scope) -> str | None:
    return Headers(scope=scope).get(HEADER) or None


async def lookup(scope: Scope, keys: ApiKeys, token: str) -> ApiKey | None:
    """The key behind `token`, looked up once per request: the rate limiter, the read-key
    check and a route's dependency share the answer (a failure too: KeysUnavailableError)."""
    per_request = scope.setdefault("state", {})
    cached = per_request.get(_RESOLVED)
    if cached is not None and cached[0] == token:
        if isinstance(cached[1], KeysUnavailableError):
            raise cached[1]
        return cached[1]  # type: ignore[no-any-return]
    try:
        key = await keys.authenticate(token)
    except KeysUnavailableError as exc:
        per_request[_RESOLVED] = (token, exc)
        raise
    per_request[_RESOLVED] = (token, key)
    return key


_api_key_header = APIKeyHeader(
    name=HEADER,
    auto_error=False,
    description="An API key from `statmuse-gateway apikey create` (smp_<id>_<secret>)",
)


def require_scope(needed: KeyScope) -> Callable[..., Awaitable[ApiKey]]:
    """A dependency: the request's API key, which must hold `needed` (or a higher scope).
    Missing, unknown, wrong or revoked key: 401; too weak a key: 403."""
    if needed not in apikeys.SCOPES:
        raise ValueError(f"unknown scope {needed!r}")

    async def api_key(
        request: Request, rt: Gateway, token: Annotated[str | None, Security(_api_key_header)]
    ) -> ApiKey:
        key = None
        if token:
            try:
                key = await lookup(request.scope, rt.api_keys, token)
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


class ReadKeyMiddleware:
    """With `require_key_for_reads`: the read endpoints answer only requests with a key
    holding "read" (installed only then)."""

    def __init__(self, app: ASGIApp, *, runtime: "GatewayRuntime") -> None:
        self.app = app
        self.rt = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and needs_read_key(scope["method"], scope["path"]):
            token = token_of(scope)
            key = None
            try:
                key = await lookup(scope, self.rt.api_keys, token) if token else None
                refusal = authorize(token, key, "read")
            except KeysUnavailableError:
                refusal = Refusal(503, "API keys cannot be checked right now")
            if refusal is not None:
                more = {"Retry-After": "5"} if refusal.status == 503 else refusal.headers
                await send_json(send, refusal.status, refusal.detail, more)
                return
        await self.app(scope, receive, send)
