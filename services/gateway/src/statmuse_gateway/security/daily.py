"""A daily limit on predictions that an API key's holder sets for themselves (responsible
gambling): `PUT /api/keys/me/daily_limit`. Beyond it the prediction endpoints answer 429 with
the help links, until 00:00 UTC. A lower limit applies at once; a higher one, or none, from
the next UTC day (`adapters.apikeys.DailyLimit`).

The day's count is one Redis counter per key and UTC day, shared by every gateway process. A
request the limit refuses is not counted. When the counter cannot be reached the request is
refused (503): a limit someone set to protect themselves must not lapse silently.
"""

import datetime as dt
import math
import time
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from statmuse_gateway.ports import CounterUnavailableError, KeysUnavailableError
from statmuse_gateway.runtime import GatewayRuntime
from statmuse_gateway.schemas import HELP_LINKS
from statmuse_gateway.security.keys import lookup, token_of

DAY_S = 86_400


def now() -> float:
    """Wall-clock seconds (tests move it)."""
    return time.time()


def today() -> dt.date:
    return dt.datetime.fromtimestamp(now(), dt.UTC).date()


def counter_key(key_id: str, day: dt.date) -> str:
    return f"daily:{key_id}:{day.isoformat()}"


async def used_today(rt: GatewayRuntime, key_id: str) -> int:
    """The key's predictions so far today (0 when the counter cannot say)."""
    try:
        return await rt.limiter.counter.count(counter_key(key_id, today()), 2 * DAY_S, by=0)
    except CounterUnavailableError:
        return 0


async def spend(request: Request, rt: GatewayRuntime, n: int) -> JSONResponse | None:
    """Count `n` predictions against the request's key's daily limit: None when they fit (or
    the request has no valid key, or its key no limit), else the refusal to send."""
    token = token_of(request.scope)
    if not token or n <= 0:
        return None
    try:
        key = await lookup(request.scope, rt.api_keys, token)
    except KeysUnavailableError:
        return None  # the read-key check, when reads need a key, has answered 503 already
    day = today()
    limit = None if key is None or key.revoked else key.daily.on(day)
    if key is None or limit is None:
        return None
    name = counter_key(key.key_id, day)
    try:
        used = await rt.limiter.counter.count(name, 2 * DAY_S, by=n)
        if used <= limit:
            return None
        await rt.limiter.counter.count(name, 2 * DAY_S, by=-n)  # a refusal is not counted
    except CounterUnavailableError:
        return JSONResponse(
            status_code=503,
            headers={"Retry-After": "30"},
            content={"detail": "your daily limit cannot be checked right now; try again soon"},
        )
    midnight = math.ceil(now() / DAY_S) * DAY_S
    body: dict[str, Any] = {
        "detail": f"daily limit reached: you set {limit} predictions a day for this API key "
        f"and have used {used - n}; it resets at 00:00 UTC. Taking a break is a good idea. "
        "If gambling is a problem for you, help is free and confidential.",
        "help_links": dict(HELP_LINKS),
    }
    return JSONResponse(
        status_code=429, headers={"Retry-After": str(max(1, int(midnight - now())))}, content=body
    )
