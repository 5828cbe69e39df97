"""GET /api/keys/me and PUT /api/keys/me/daily_limit: a key's holder sees its limits and sets
a daily limit on predictions for themselves (`security.daily`)."""

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException

from statmuse_gateway.adapters.apikeys import ApiKey
from statmuse_gateway.dependencies import Gateway
from statmuse_gateway.ports import KeysUnavailableError
from statmuse_gateway.runtime import GatewayRuntime
from statmuse_gateway.schemas import DailyLimitRequest, KeyLimits
from statmuse_gateway.security import daily
from statmuse_gateway.security.keys import require_scope

router = APIRouter(prefix="/api/keys", tags=["keys"])
AnyKey = Annotated[ApiKey, Depends(require_scope("read"))]
_RESPONSES: dict[int | str, dict[str, str]] = {
    401: {"description": "No API key, or not a valid one"},
    503: {"description": "The key store or the counter is unavailable"},
}


async def _limits(rt: GatewayRuntime, key: ApiKey) -> KeyLimits:
    moment = daily.now()
    day = daily.day_of(moment)
    try:
        used = await rt.api_keys.used_on(key.key_id, day)
    except KeysUnavailableError as exc:
        raise HTTPException(
            503, "the limits cannot be read right now", headers={"Retry-After": "5"}
        ) from exc
    pending = key.daily.pending(moment)
    return KeyLimits(
        key_id=key.key_id,
        name=key.name,
        scopes=list(key.scopes),
        rate_limit_per_minute=key.rate_limit or rt.settings.rate_limit_per_minute,
        daily_limit=key.daily.at(moment),
        day=day,
        used_today=used,
        resets_at=daily.day_ends(moment),
        pending_daily_limit=key.daily.raised_to if pending else None,
        pending_at=key.daily.raise_at if pending else None,
    )


@router.get("/me", response_model=KeyLimits, responses=_RESPONSES, summary="This key's limits")
async def my_limits(rt: Gateway, key: AnyKey) -> KeyLimits:
    return await _limits(rt, key)


@router.put(
    "/me/daily_limit",
    response_model=KeyLimits,
    responses=_RESPONSES,
    summary="Set a daily limit on this key's predictions (lower: now; higher or none: in 24 h)",
)
async def set_daily_limit(body: DailyLimitRequest, rt: Gateway, key: AnyKey) -> KeyLimits:
    try:
        changed = await rt.api_keys.change_daily_limit(key.key_id, body.daily_limit, daily.now())
    except KeysUnavailableError as exc:
        raise HTTPException(
            503, "the limit cannot be stored right now", headers={"Retry-After": "5"}
        ) from exc
    if changed is None:  # deleted meanwhile
        raise HTTPException(401, "invalid API key")
    return await _limits(rt, dataclasses.replace(key, daily=changed))
