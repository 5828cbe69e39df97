"""A daily limit on predictions that an API key's holder sets for themselves (responsible
gambling): `PUT /api/keys/me/daily_limit`. Beyond it the prediction endpoints answer 429 with
the help links until the day ends. The day is US Eastern (the NBA's: it ends at midnight in
New York, not in the middle of an evening's games). A lower limit applies at once; a higher
one, or none, 24 hours after it was asked (`adapters.apikeys.DailyLimit`).

Each prop asked counts (a batch counts its valid items), whatever the answer. The count lives
in PostgreSQL with the keys, counted and checked in one statement, so concurrent requests
cannot both take the last prediction and a cache restart cannot reset it; a request the
limit refuses is not counted. When the count or the key cannot be checked, a request with a
key is refused (503): a limit someone set to protect themselves must not lapse silently.
"""

import datetime as dt
import time
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import JSONResponse

from statmuse_gateway.ports import KeysUnavailableError
from statmuse_gateway.runtime import GatewayRuntime
from statmuse_gateway.schemas import HELP_LINKS
from statmuse_gateway.security.keys import lookup, token_of

NBA_TIME = ZoneInfo("America/New_York")


def now() -> dt.datetime:
    """The current time (tests move it)."""
    return dt.datetime.fromtimestamp(time.time(), dt.UTC)


def day_of(moment: dt.datetime) -> dt.date:
    """The counting day of `moment`: its date in US Eastern time."""
    return moment.astimezone(NBA_TIME).date()


def day_ends(moment: dt.datetime) -> dt.datetime:
    """When the counting day of `moment` ends (the next midnight in US Eastern time)."""
    local = moment.astimezone(NBA_TIME)
    midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), NBA_TIME)
    return midnight.astimezone(dt.UTC)


def _unavailable() -> JSONResponse:
    return JSONResponse(
        status_code=503,
        headers={"Retry-After": "30"},
        content={"detail": "your daily limit cannot be checked right now; try again soon"},
    )


async def spend(request: Request, rt: GatewayRuntime, n: int) -> JSONResponse | None:
    """Count `n` predictions against the request's key's daily limit: None when they fit (or
    the request has no valid key, or its key no limit), else the refusal to send."""
    token = token_of(request.scope)
    if not token or n <= 0:
        return None
    try:
        key = await lookup(request.scope, rt.api_keys, token)
    except KeysUnavailableError:
        return _unavailable()  # its limit, if it has one, cannot be known
    moment = now()
    limit = None if key is None or key.revoked else key.daily.at(moment)
    if key is None or limit is None:
        return None
    day = day_of(moment)
    try:
        counted, used = await rt.api_keys.spend(key.key_id, day, n, limit)
    except KeysUnavailableError:
        return _unavailable()
    if counted:
        return None
    ends = day_ends(moment)
    body: dict[str, Any] = {
        "detail": f"daily limit reached: you set {limit} predictions a day for this API key "
        f"and have used {used}; it resets at midnight US Eastern time. Taking a break is a "
        "good idea. If gambling is a problem for you, help is free and confidential.",
        "help_links": dict(HELP_LINKS),
        "resets_at": ends.isoformat(),
    }
    wait = max(1, int((ends - moment).total_seconds()))
    return JSONResponse(status_code=429, headers={"Retry-After": str(wait)}, content=body)
