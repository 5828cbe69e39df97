"""POST /api/models/{key}/promote|rollback, POST and DELETE /api/models/{key}/load (admin):
the gateway only publishes a `ModelAliasRequested` command on nba.models.commands.v1; the
trainer owns the registry, carries it out and keeps the audit log (who asked, what, when)."""

import logging
import uuid
from typing import Annotated, Any, Literal

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, HTTPException, Path
from faststream.exceptions import FastStreamException

from statmuse_gateway.adapters.apikeys import ApiKey
from statmuse_gateway.dependencies import Gateway
from statmuse_gateway.runtime import GatewayRuntime
from statmuse_gateway.schemas import LoadRequest, ModelCommandAccepted
from statmuse_gateway.security.keys import require_scope
from statmuse_shared.contract.messages import ModelAliasRequested
from statmuse_shared.contract.stats import Stat
from statmuse_shared.platform.broker import publish

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api", tags=["predictions"])

# Admin moves need a key with the "admin" scope (401 without a valid key, 403 with a weaker one).
ADMIN = require_scope("admin")
KeyPath = Annotated[
    str,
    Path(
        pattern=r"^[a-z0-9_]+(:[1-9][0-9]*)?$",
        description="Serving key: a stat, or '<stat>:<player_id>'",
        examples=["points", "points:2544"],
    ),
]


async def _model_command(
    rt: GatewayRuntime,
    action: Literal["promote", "rollback", "pin", "unpin"],
    key: str,
    principal: ApiKey,
    load: LoadRequest | None = None,
) -> ModelCommandAccepted:
    stat = key.partition(":")[0]
    if stat not in {s.value for s in Stat}:
        raise HTTPException(422, f"unknown stat {stat!r} in serving key {key!r}")
    # The key's public id names who asked (its secret never leaves the request).
    command = ModelAliasRequested(
        event_id=str(uuid.uuid4()),
        action=action,
        key=key,
        requested_by=f"apikey:{principal.key_id}",
        **({} if load is None else load.model_dump()),
    )
    try:
        # Keyed by serving key: one partition, so moves of a key apply in the order asked.
        await publish(rt.publish_model_commands, command, key=key.encode())
    except (KafkaError, FastStreamException, OSError, TimeoutError) as exc:
        log.warning("could not publish %s %s: %s", action, key, exc)
        raise HTTPException(
            503, "the command could not be queued; try again", headers={"Retry-After": "5"}
        ) from exc
    log.info(
        "%s of %s requested by %s",
        action,
        key,
        command.requested_by,
        extra={"event_id": command.event_id},
    )
    return ModelCommandAccepted(action=action, key=key, event_id=command.event_id)


_ADMIN_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No API key, or not a valid one (unknown, wrong or revoked)"},
    403: {"description": "The key lacks the admin scope"},
    422: {"description": "Not a serving key"},
    503: {"description": "The broker or the API-key store is unavailable"},
}


@router.post(
    "/models/{key}/promote",
    status_code=202,
    response_model=ModelCommandAccepted,
    responses=_ADMIN_RESPONSES,
    tags=["models"],
    summary="Make the staged version of a serving key production (admin)",
)
async def promote_model(
    key: KeyPath, rt: Gateway, principal: Annotated[ApiKey, Depends(ADMIN)]
) -> ModelCommandAccepted:
    return await _model_command(rt, "promote", key, principal)


@router.post(
    "/models/{key}/rollback",
    status_code=202,
    response_model=ModelCommandAccepted,
    responses=_ADMIN_RESPONSES,
    tags=["models"],
    summary="Put back the version that was production before the current one (admin)",
)
async def rollback_model(
    key: KeyPath, rt: Gateway, principal: Annotated[ApiKey, Depends(ADMIN)]
) -> ModelCommandAccepted:
    return await _model_command(rt, "rollback", key, principal)


@router.post(
    "/models/{key}/load",
    status_code=202,
    response_model=ModelCommandAccepted,
    responses={**_ADMIN_RESPONSES, 422: {"description": "Not a serving key, or a bad pin"}},
    tags=["models"],
    summary="Serve a given version beside production, as a canary or a shadow (admin)",
)
async def load_model(
    key: KeyPath, body: LoadRequest, rt: Gateway, principal: Annotated[ApiKey, Depends(ADMIN)]
) -> ModelCommandAccepted:
    """A registered version of `key` serves beside production: as a **canary** it answers
    `share` of the (player, game date) pairs (here and in the predictor), as a **shadow** it
    answers nobody and is priced beside every prediction of the key, so the A/B test
    (GET /api/models/{stat}/ab) compares it with production on the same props. It replaces
    what was staged. The trainer checks the version belongs to the key (a refusal is a dead
    letter with the reason) and writes the move, with who asked, to its audit log."""
    return await _model_command(rt, "pin", key, principal, body)


@router.delete(
    "/models/{key}/load",
    status_code=202,
    response_model=ModelCommandAccepted,
    responses=_ADMIN_RESPONSES,
    tags=["models"],
    summary="End the pinned (or staged) version of a serving key (admin)",
)
async def unload_model(
    key: KeyPath, rt: Gateway, principal: Annotated[ApiKey, Depends(ADMIN)]
) -> ModelCommandAccepted:
    """Production answers every pair again; the version is archived."""
    return await _model_command(rt, "unpin", key, principal)
