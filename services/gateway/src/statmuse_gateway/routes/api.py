"""/api routes. Handlers are thin: validate, read the read model, call the shared predict.

Single and batch endpoints share one function per item that returns its answer or raises
`ItemFailed`; a batch runs its items concurrently, each within its own timeout and all within
the batch budget, and answers 200 with a status per item."""

import asyncio
import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any, Literal, TypeVar

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from faststream.exceptions import FastStreamException

from statmuse_gateway import security
from statmuse_gateway.adapters import postgres as db
from statmuse_gateway.adapters.apikeys import ApiKey
from statmuse_gateway.adapters.cache import ContextCache, prediction_cache
from statmuse_gateway.schemas import (
    DISCLAIMER,
    BatchPlayerContextItem,
    BatchPlayerContextRequest,
    BatchPlayerContextResponse,
    BatchPredictItem,
    BatchPredictRequest,
    BatchPredictResponse,
    DistributionPoint,
    ErrorBody,
    FeatureContribution,
    ItemStatus,
    ModelCommandAccepted,
    ModelInfo,
    PlayerContextQuery,
    PredictRequest,
    PredictResponse,
)
from statmuse_gateway.service import suggest
from statmuse_gateway.settings import GatewaySettings
from statmuse_shared import topics
from statmuse_shared.broker import publish_model
from statmuse_shared.features.context import player_context
from statmuse_shared.messages import ModelAliasRequested, ModelPublished
from statmuse_shared.names import normalize_name
from statmuse_shared.pricing import DEFAULT_AMERICAN_ODDS
from statmuse_shared.serving import ModelBook, chart, predict
from statmuse_shared.stats import Stat

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api", tags=["predictions"])
T = TypeVar("T")


def state(request: Request) -> dict[str, Any]:
    value: dict[str, Any] = request.app.state.service_state
    return value


State = Annotated[dict[str, Any], Depends(state)]


def _settings(st: dict[str, Any]) -> GatewaySettings:
    """The gateway's settings (handlers.register keeps them in the state); defaults otherwise."""
    found = st.get("settings")
    return found if isinstance(found, GatewaySettings) else GatewaySettings.model_construct()


class ItemFailed(Exception):
    """One item's answer is not a result: its batch status and the single endpoint's reply."""

    def __init__(
        self,
        status: ItemStatus,
        http_status: int,
        content: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(content["detail"])
        self.status: ItemStatus = status
        self.http_status = http_status
        self.content = content
        self.headers = headers

    def response(self) -> JSONResponse:
        return JSONResponse(status_code=self.http_status, content=self.content,
                            headers=self.headers)  # fmt: skip


async def _unknown_player(conn: Any, name: str) -> ItemFailed:
    names = await db.all_names(conn=conn)
    body = ErrorBody(detail=f"unknown player {name!r}", suggestions=suggest(name, names))
    return ItemFailed("not_found", 404, body.model_dump())


PLAYER_TTL_S = 30.0  # known names change once a day; a new player shows up within this


async def _find_player(st: dict[str, Any], name: str) -> Any:
    """The player a name means, from a small in-process map of recent answers (every
    prediction needs it, a cache hit included); unknown names always go to PostgreSQL."""
    known: dict[str, tuple[float, Any]] = st.setdefault("player_names", {})
    key = normalize_name(name)
    hit = known.get(key)
    now = time.monotonic()
    if hit is not None and hit[0] > now:
        return hit[1]
    async with st["pool"].acquire() as conn:
        players = await db.find_players(conn=conn, name=name)
        if not players:
            raise await _unknown_player(conn, name)
    if len(known) > 10_000:
        known.clear()
    known[key] = (now + PLAYER_TTL_S, players[0])
    return players[0]


async def _predict_one(st: dict[str, Any], body: PredictRequest) -> PredictResponse:
    answer = await _predict_answer(st, body, as_json=False)
    assert isinstance(answer, PredictResponse)
    return answer


async def _predict_answer(
    st: dict[str, Any], body: PredictRequest, *, as_json: bool
) -> PredictResponse | dict[str, Any]:
    """One prop's prediction, from the cache when the same inputs met the same model.
    `as_json`: a cache hit comes back as the stored JSON object, not re-validated."""
    pool = st["pool"]
    book: ModelBook = st["book"]
    cache = prediction_cache(st, ttl_s=_settings(st).prediction_cache_seconds)
    player = await _find_player(st, body.player)
    player_id: int = player["player_id"]
    odds_over = body.odds_over or DEFAULT_AMERICAN_ODDS
    odds_under = body.odds_under or DEFAULT_AMERICAN_ODDS
    served = book.for_stat(body.stat, player_id)
    key = None
    if served is not None:
        params = {"name": normalize_name(body.player), "stat": body.stat.value, "line": body.line,
                  "odds_over": odds_over, "odds_under": odds_under, "game_date": body.game_date,
                  "opponent": body.opponent, "model_version": served.info.version}  # fmt: skip
        key = await cache.key(player_id=player_id, params=params)
        cached = await cache.get(key)
        if cached is not None:
            return cached if as_json else PredictResponse.model_validate(cached)
    async with pool.acquire() as conn:
        found = await db.vector_for(conn=conn, player_id=player_id, game_date=body.game_date)
    if found is None:
        detail = f"no games for {player['player_name']} before {body.game_date}"
        raise ItemFailed("not_found", 404, {"detail": detail})
    if served is None:
        detail = f"no production model for {body.stat.value} yet"
        raise ItemFailed("error", 503, ErrorBody(detail=detail).model_dump(),
                         headers={"Retry-After": "30"})  # fmt: skip
    as_of, features = found
    model = served

    def compute() -> PredictResponse:
        p = predict(model, features, line=body.line, odds_over=odds_over,
                    odds_under=odds_under, player_id=player_id)  # fmt: skip
        return PredictResponse(
            player=player["player_name"],
            player_id=player_id,
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

    # The model runs off the event loop, so a batch's items and other requests interleave.
    answer = await asyncio.to_thread(compute)
    await cache.put(key, answer.model_dump(mode="json"))
    return answer


@router.post(
    "/predict",
    response_model=PredictResponse,
    responses={404: {"model": ErrorBody}, 503: {"model": ErrorBody}},
    summary="P(over/under/push), value and explanation for one player prop",
)
async def predict_prop(body: PredictRequest, st: State) -> PredictResponse | JSONResponse:
    try:
        answer = await _predict_answer(st, body, as_json=True)
        # A cache hit is the JSON the model produced: sent as stored, not validated again.
        return JSONResponse(answer) if isinstance(answer, dict) else answer
    except ItemFailed as failed:
        return failed.response()


async def _attempt(
    make: Callable[[], Awaitable[T]], *, timeout_s: float
) -> tuple[ItemStatus, T | None, str | None, list[str] | None]:
    """(status, value, error, suggestions) of one batch item; never raises (bar cancel)."""
    try:
        return "ok", await asyncio.wait_for(make(), timeout_s), None, None
    except ItemFailed as failed:
        return failed.status, None, str(failed), failed.content.get("suggestions") or None
    except TimeoutError:
        return "timeout", None, f"not done within {timeout_s:g} s", None
    except Exception as exc:  # one item's failure must not fail the batch
        log.exception("batch item failed")
        return "error", None, f"could not answer: {type(exc).__name__}", None


async def _run_batch(
    st: dict[str, Any], makers: Sequence[Callable[[], Awaitable[T]]]
) -> list[tuple[ItemStatus, T | None, str | None, list[str] | None]]:
    """Every item concurrently, each within its timeout, all within the batch budget (what is
    not done by then is cancelled and reported as a timeout)."""
    settings = _settings(st)
    if len(makers) > settings.batch_max_items:
        raise HTTPException(422, f"at most {settings.batch_max_items} items per batch")
    tasks = [
        asyncio.create_task(_attempt(make, timeout_s=settings.batch_item_timeout_seconds))
        for make in makers
    ]
    _, pending = await asyncio.wait(tasks, timeout=settings.batch_budget_seconds)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    late = f"batch budget of {settings.batch_budget_seconds:g} s spent"
    return [("timeout", None, late, None) if task in pending else task.result() for task in tasks]


@router.post(
    "/batch_predict",
    response_model=BatchPredictResponse,
    summary="Up to 50 props at once; partial results, a status per item",
)
async def batch_predict(body: BatchPredictRequest, st: State) -> BatchPredictResponse:
    def maker(item: PredictRequest) -> Callable[[], Awaitable[PredictResponse]]:
        return lambda: _predict_one(st, item)

    outcomes = await _run_batch(st, [maker(item) for item in body.items])
    results = [
        BatchPredictItem(
            index=i, status=status, prediction=value, error=error, suggestions=suggestions
        )
        for i, (status, value, error, suggestions) in enumerate(outcomes)
    ]
    ok = sum(r.status == "ok" for r in results)
    return BatchPredictResponse(results=results, ok=ok, failed=len(results) - ok)


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


async def _context_or_fail(
    st: dict[str, Any],
    *,
    name: str,
    game_date: dt.date | None,
    opponent: str | None,
    is_home: bool | None,
) -> dict[str, Any]:
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
            raise await _unknown_player(conn, name)
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


async def _context(
    st: dict[str, Any],
    *,
    name: str,
    game_date: dt.date | None,
    opponent: str | None,
    is_home: bool | None,
) -> dict[str, Any] | JSONResponse:
    try:
        return await _context_or_fail(st, name=name, game_date=game_date, opponent=opponent,
                                      is_home=is_home)  # fmt: skip
    except ItemFailed as failed:
        return failed.response()


def _context_view(found: dict[str, Any], stat_type: Stat | None) -> dict[str, Any]:
    out = dict(found)
    if stat_type is not None:
        out["stat"] = stat_type.value
        out["stat_rolling_averages"] = out["rolling_averages"][stat_type.value]
    out["disclaimer"] = DISCLAIMER
    return out


async def _context_one(st: dict[str, Any], q: PlayerContextQuery) -> dict[str, Any]:
    found = await _context_or_fail(st, name=q.player_name, game_date=q.game_date,
                                   opponent=q.opponent, is_home=q.is_home)  # fmt: skip
    return _context_view(found, q.stat_type)


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
    return _context_view(found, stat_type)


@router.post(
    "/batch_player_context",
    response_model=BatchPlayerContextResponse,
    summary="Player context for up to 50 players at once; partial results",
    tags=["players"],
)
async def batch_player_context(
    body: BatchPlayerContextRequest, st: State
) -> BatchPlayerContextResponse:
    def maker(item: PlayerContextQuery) -> Callable[[], Awaitable[dict[str, Any]]]:
        return lambda: _context_one(st, item)

    outcomes = await _run_batch(st, [maker(item) for item in body.items])
    results = [
        BatchPlayerContextItem(
            index=i, status=status, context=value, error=error, suggestions=suggestions
        )
        for i, (status, value, error, suggestions) in enumerate(outcomes)
    ]
    ok = sum(r.status == "ok" for r in results)
    return BatchPlayerContextResponse(results=results, ok=ok, failed=len(results) - ok)


# Admin moves need a key with the "admin" scope (401 without a key, 403 with a weaker one).
ADMIN = security.require_scope("admin")
KeyPath = Annotated[
    str,
    Path(pattern=r"^[a-z0-9_]+(:[1-9][0-9]*)?$",
         description="Serving key: a stat, or '<stat>:<player_id>'",
         examples=["points", "points:2544"]),
]  # fmt: skip


async def _model_command(
    st: dict[str, Any], action: Literal["promote", "rollback"], key: str, principal: ApiKey
) -> ModelCommandAccepted:
    stat = key.partition(":")[0]
    if stat not in {s.value for s in Stat}:
        raise HTTPException(422, f"unknown stat {stat!r} in serving key {key!r}")
    # The key's public id names who asked (its secret never leaves the request).
    command = ModelAliasRequested(event_id=str(uuid.uuid4()), action=action, key=key,
                                  requested_by=f"apikey:{principal.key_id}")  # fmt: skip
    try:
        # Keyed by serving key: one partition, so moves of a key apply in the order asked.
        await publish_model(st["broker"], command, topic=topics.MODEL_COMMANDS, key=key.encode())
    except (KafkaError, FastStreamException, OSError, TimeoutError) as exc:
        log.warning("could not publish %s %s: %s", action, key, exc)
        raise HTTPException(503, "the command could not be queued; try again",
                            headers={"Retry-After": "5"}) from exc  # fmt: skip
    log.info("%s of %s requested by %s", action, key, command.requested_by,
             extra={"event_id": command.event_id})  # fmt: skip
    return ModelCommandAccepted(action=action, key=key, event_id=command.event_id)


_ADMIN_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or invalid API key"},
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
    key: KeyPath, st: State, principal: Annotated[ApiKey, Depends(ADMIN)]
) -> ModelCommandAccepted:
    return await _model_command(st, "promote", key, principal)


@router.post(
    "/models/{key}/rollback",
    status_code=202,
    response_model=ModelCommandAccepted,
    responses=_ADMIN_RESPONSES,
    tags=["models"],
    summary="Put back the version that was production before the current one (admin)",
)
async def rollback_model(
    key: KeyPath, st: State, principal: Annotated[ApiKey, Depends(ADMIN)]
) -> ModelCommandAccepted:
    return await _model_command(st, "rollback", key, principal)
