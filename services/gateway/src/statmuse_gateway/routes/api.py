"""/api routes. Handlers are thin: validate, read the read model, call the shared predict."""

import asyncio
import datetime as dt
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from statmuse_gateway.adapters import postgres as db
from statmuse_gateway.adapters.cache import ContextCache
from statmuse_gateway.schemas import (
    DISCLAIMER,
    DistributionPoint,
    ErrorBody,
    FeatureContribution,
    ModelInfo,
    PredictRequest,
    PredictResponse,
)
from statmuse_gateway.service import suggest
from statmuse_shared.features.context import player_context
from statmuse_shared.messages import ModelPublished
from statmuse_shared.names import normalize_name
from statmuse_shared.pricing import DEFAULT_AMERICAN_ODDS
from statmuse_shared.serving import ModelBook, chart, predict
from statmuse_shared.stats import Stat

router = APIRouter(prefix="/api", tags=["predictions"])


def state(request: Request) -> dict[str, Any]:
    value: dict[str, Any] = request.app.state.service_state
    return value


State = Annotated[dict[str, Any], Depends(state)]


@router.post(
    "/predict",
    response_model=PredictResponse,
    responses={404: {"model": ErrorBody}, 503: {"model": ErrorBody}},
    summary="P(over/under/push), value and explanation for one player prop",
)
async def predict_prop(body: PredictRequest, st: State) -> PredictResponse | JSONResponse:
    pool = st["pool"]
    book: ModelBook = st["book"]
    async with pool.acquire() as conn:
        players = await db.find_players(conn=conn, name=body.player)
        if not players:
            names = await db.all_names(conn=conn)
            return JSONResponse(
                status_code=404,
                content=ErrorBody(
                    detail=f"unknown player {body.player!r}",
                    suggestions=suggest(body.player, names),
                ).model_dump(),
            )
        player = players[0]
        found = await db.vector_for(
            conn=conn, player_id=player["player_id"], game_date=body.game_date
        )
    if found is None:
        raise HTTPException(404, f"no games for {player['player_name']} before {body.game_date}")
    as_of, features = found
    served = book.for_stat(body.stat, player["player_id"])
    if served is None:
        return JSONResponse(
            status_code=503,
            headers={"Retry-After": "30"},
            content=ErrorBody(detail=f"no production model for {body.stat.value} yet").model_dump(),
        )
    odds_over = body.odds_over or DEFAULT_AMERICAN_ODDS
    odds_under = body.odds_under or DEFAULT_AMERICAN_ODDS
    p = predict(served, features, line=body.line, odds_over=odds_over, odds_under=odds_under,
                player_id=player["player_id"])  # fmt: skip
    return PredictResponse(
        player=player["player_name"],
        player_id=player["player_id"],
        stat=body.stat,
        line=body.line,
        as_of=as_of,
        predicted_value=round(p.predicted_value, 4),
        over_probability=p.over_probability,
        under_probability=p.under_probability,
        push_probability=p.push_probability,
        recommendation=p.pricing.recommendation,
        confidence=p.pricing.confidence,
        expected_value=p.pricing.expected_value,
        kelly_fraction=p.pricing.kelly_fraction,
        odds_over=odds_over,
        odds_under=odds_under,
        model_version=p.model_version,
        fallback=p.fallback,
        explanation=[
            FeatureContribution(feature=c.feature, value=c.value, contribution=c.contribution)
            for c in p.contributions
        ],
        distribution=[DistributionPoint(value=v, probability=pr) for v, pr in chart(p.dist)],
        disclaimer=DISCLAIMER,
    )


@router.get("/models", response_model=list[ModelInfo], tags=["models"])
async def list_models(st: State) -> list[ModelInfo]:
    async with st["pool"].acquire() as conn:
        rows = await db.list_models(conn=conn)
    out = []
    for r in rows:
        event = ModelPublished.model_validate(json.loads(r["payload"]))
        out.append(
            ModelInfo(
                name=event.name,
                version=event.version,
                stat=event.stat,
                player_id=event.player_id,
                alias=r["alias"],
                model_type=event.model_type,
                metrics=event.metrics.model_dump(),
                feature_set_version=event.feature_set_version,
                updated_at=r["updated_at"],
            )
        )
    return out


async def _context(
    st: dict[str, Any],
    *,
    name: str,
    game_date: dt.date | None,
    opponent: str | None,
    is_home: bool | None,
) -> dict[str, Any] | JSONResponse:
    cache: ContextCache = st["context_cache"]
    params = {"name": normalize_name(name), "game_date": str(game_date), "opponent": opponent,
              "is_home": is_home}  # fmt: skip
    cached = await cache.get(params)
    if cached is not None:
        return cached
    pool = st["pool"]
    async with pool.acquire() as conn:
        players = await db.find_players(conn=conn, name=name)
        if not players:
            names = await db.all_names(conn=conn)
            return JSONResponse(
                status_code=404,
                content=ErrorBody(detail=f"unknown player {name!r}",
                                  suggestions=suggest(name, names)).model_dump(),
            )  # fmt: skip
    player = players[0]
    async with pool.acquire() as conn:
        games = await db.history(conn=conn, player_id=player["player_id"])
    value = await asyncio.to_thread(
        player_context, player_id=player["player_id"], player_name=player["player_name"],
        history=games, league=st["league"], game_date=game_date, opponent=opponent,
        is_home=is_home,
    )  # fmt: skip
    await cache.put(player["player_id"], params, value)
    return value


@router.get(
    "/player_context",
    responses={404: {"model": ErrorBody}},
    summary="Recent games, averages, advanced metrics, opponent and rest before a game",
    tags=["players"],
)
async def get_player_context(
    st: State,
    player_name: Annotated[str, Query(min_length=2, max_length=80, examples=["LeBron James"])],
    stat_type: Annotated[Stat | None, Query(description="Highlights this stat")] = None,
    game_date: Annotated[dt.date | None, Query(description="Default: the next game")] = None,
    opponent: Annotated[str | None, Query(pattern=r"^[A-Z]{2,3}$", examples=["DEN"])] = None,
    is_home: bool | None = None,
) -> Any:
    found = await _context(st, name=player_name, game_date=game_date, opponent=opponent,
                           is_home=is_home)  # fmt: skip
    if isinstance(found, JSONResponse):
        return found
    out = dict(found)
    if stat_type is not None:
        out["stat"] = stat_type.value
        out["stat_rolling_averages"] = out["rolling_averages"][stat_type.value]
    out["disclaimer"] = DISCLAIMER
    return out
