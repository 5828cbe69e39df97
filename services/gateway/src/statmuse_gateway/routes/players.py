"""GET /api/player_context and POST /api/batch_player_context: thin over the player-context
use case (`statmuse_gateway.contexts`)."""

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from statmuse_gateway import contexts
from statmuse_gateway.dependencies import Gateway
from statmuse_gateway.routes.common import check_batch_size, failure, invalid_item
from statmuse_gateway.schemas import (
    TEAM_CODES,
    BatchPlayerContextItem,
    BatchPlayerContextRequest,
    BatchPlayerContextResponse,
    ErrorBody,
    PlayerContextQuery,
)
from statmuse_gateway.service import ItemFailed
from statmuse_shared.contract.stats import Stat

router = APIRouter(prefix="/api", tags=["predictions"])


@router.get(
    "/player_context",
    responses={404: {"model": ErrorBody}},
    summary="Recent games, averages, advanced metrics, opponent and rest before a game",
    tags=["players"],
)
async def get_player_context(
    rt: Gateway,
    player_name: Annotated[str, Query(min_length=2, max_length=80, examples=["LeBron James"])],
    stat_type: Annotated[Stat | None, Query(description="Highlights this stat")] = None,
    game_date: Annotated[dt.date | None, Query(description="Default: the next game")] = None,
    opponent: Annotated[str | None, Query(pattern=r"^[A-Z]{2,3}$", examples=["DEN"])] = None,
    is_home: bool | None = None,
) -> Any:
    if opponent is not None and opponent not in TEAM_CODES:
        # A field error like the others (the documented 422 body), not a bare message.
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("query", "opponent"),
                    "msg": f"unknown team code; one of {', '.join(TEAM_CODES)}",
                    "input": opponent,
                }
            ]
        )
    try:
        found = await contexts.context_of(
            rt, name=player_name, game_date=game_date, opponent=opponent, is_home=is_home
        )
    except ItemFailed as failed:
        return failure(failed)
    return contexts.view(found, stat_type)


@router.post(
    "/batch_player_context",
    response_model=BatchPlayerContextResponse,
    summary="Player context for up to 50 players at once; partial results",
    tags=["players"],
)
async def batch_player_context(
    body: BatchPlayerContextRequest, rt: Gateway
) -> BatchPlayerContextResponse:
    settings = rt.settings
    check_batch_size(settings, len(body.items))

    def maker(raw: Any) -> Callable[[], Awaitable[dict[str, Any]]]:
        try:
            item = PlayerContextQuery.model_validate(raw)
        except ValidationError as exc:
            failed = invalid_item(exc)

            async def refuse() -> dict[str, Any]:
                raise failed

            return refuse
        return lambda: contexts.context_for_query(rt, item)

    outcomes = await contexts.run_batch(
        [maker(raw) for raw in body.items],
        item_timeout_s=settings.batch_item_timeout_seconds,
        budget_s=settings.batch_budget_seconds,
    )
    results = [
        BatchPlayerContextItem(
            index=i, status=status, context=value, error=error, suggestions=suggestions
        )
        for i, (status, value, error, suggestions) in enumerate(outcomes)
    ]
    ok = sum(r.status == "ok" for r in results)
    return BatchPlayerContextResponse(results=results, ok=ok, failed=len(results) - ok)
