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
    today = daily.today()
    pending = key.daily.raise_on is not None and key.daily.raise_on > today
    return KeyLimits(
        key_id=key.key_id,
        name=key.name,
        scopes=list(key.scopes),
        rate_limit_per_minute=key.rate_limit or rt.settings.rate_limit_per_minute,
        daily_limit=key.daily.on(today),
        used_today=await daily.used_today(rt, key.key_id),
        pending_daily_limit=key.daily.raised_to if pending else None,
        pending_from=key.daily.raise_on if pending else None,
    )


@router.get("/me", response_model=KeyLimits, responses=_RESPONSES, summary="This key's limits")
async def my_limits(rt: Gateway, key: AnyKey) -> KeyLimits:
    return await _limits(rt, key)


@router.put(
    "/me/daily_limit",
    response_model=KeyLimits,
    responses=_RESPONSES,
    summary="Set a daily limit on this key's predictions (lower: now; higher or none: tomorrow)",
)
async def set_daily_limit(body: DailyLimitRequest, rt: Gateway, key: AnyKey) -> KeyLimits:
    changed = key.daily.set_to(body.daily_limit, daily.today())
    try:
        await rt.api_keys.set_daily_limit(key.key_id, changed)
    except KeysUnavailableError as exc:
        raise HTTPException(
            503, "the limit cannot be stored right now", headers={"Retry-After": "5"}
        ) from exc
    return await _limits(rt, dataclasses.replace(key, daily=changed))
