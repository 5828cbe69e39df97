"""/api routes. Handlers are thin: validate, read the read model, call the shared predict.

Single and batch predictions share `_predict_many`, which takes every prop of a request through
each step together (one query, one cache round trip, one vectorised model call per model) and
gives each its answer or why not (`ItemFailed`); a batch answers 200 with a status per item.
Batch player context runs its items concurrently, each within its own timeout and all within
the batch budget."""

import asyncio
import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from faststream.exceptions import FastStreamException

from statmuse_gateway import security
from statmuse_gateway.adapters import postgres as db
from statmuse_gateway.adapters.apikeys import ApiKey
from statmuse_gateway.adapters.cache import ContextCache, prediction_cache
from statmuse_gateway.schemas import (
    DISCLAIMER,
    HELP_LINKS,
    BatchPlayerContextItem,
    BatchPlayerContextRequest,
    BatchPlayerContextResponse,
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
from statmuse_shared.contract import topics
from statmuse_shared.contract.messages import ModelAliasRequested, ModelPublished
from statmuse_shared.contract.names import normalize_name
from statmuse_shared.contract.stats import Stat
from statmuse_shared.features.context import player_context
from statmuse_shared.models.output import ModelOutput
from statmuse_shared.models.prediction import chart
from statmuse_shared.models.pricing import DEFAULT_AMERICAN_ODDS
from statmuse_shared.models.serving import ModelBook, Served, predict
from statmuse_shared.platform.legacy import publish_model

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api", tags=["predictions"])
T = TypeVar("T")


async def state(request: Request) -> dict[str, Any]:
    # async: FastAPI runs a plain `def` dependency in a worker thread, a hop per request.
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
        return JSONResponse(
            status_code=self.http_status, content=self.content, headers=self.headers
        )


async def _unknown_player(conn: Any, name: str) -> ItemFailed:
    return _unknown(name, await db.all_names(conn=conn))


def _unknown(name: str, names: list[str]) -> ItemFailed:
    body = ErrorBody(detail=f"unknown player {name!r}", suggestions=suggest(name, names))
    return ItemFailed("not_found", 404, body.model_dump())


PLAYER_TTL_S = 30.0  # known names change once a day; a new player shows up within this


async def _find_players(
    st: dict[str, Any], names: Sequence[str], *, hit: security.DeferredHit | None = None
) -> dict[str, Any]:
    """The player each name means, by normalised name (None for an unknown one), from a small
    in-process map of recent answers (every prediction needs it, a cache hit included); the
    names it lacks, unknown ones always among them, from PostgreSQL in one query (after the
    request's rate-limit count, if it is still to be made)."""
    known: dict[str, tuple[float, Any]] = st.setdefault("player_names", {})
    now = time.monotonic()
    out: dict[str, Any] = {}
    for name in names:
        key = normalize_name(name)
        seen = known.get(key)
        out[key] = seen[1] if seen is not None and seen[0] > now else None
    missing = [key for key, player in out.items() if player is None]
    if missing:
        await _admit(hit)
        async with st["pool"].acquire() as conn:
            found = await db.find_players_by_name(conn=conn, normalized_names=missing)
        if len(known) > 10_000:
            known.clear()
        for key, player in found.items():
            known[key] = (now + PLAYER_TTL_S, player)
            out[key] = player
    return out


# What an item of `_predict_many` comes to: the JSON of its PredictResponse, why there is
# none (ItemFailed), the exception that stopped it, or None while it is not done.
Answer = bytes | ItemFailed | Exception | None


@dataclass(slots=True)
class _Prop:
    """One prop on its way through `_predict_many`."""

    index: int
    body: PredictRequest
    player: Any
    served: Served | None
    odds_over: int
    odds_under: int
    key: str | None = None  # its cache entry, for storing a computed answer


@dataclass(slots=True)
class _Computed:
    """A model whose output for one row is already known (from a vectorised call), so that
    `serving.predict` prices it exactly as it prices a row it computes itself."""

    stat: Stat
    model_type: str
    output: ModelOutput

    def predict(self, features: Any, player_id: int | None = None) -> ModelOutput:
        del features, player_id
        return self.output


def _outputs(model: Any, rows: list[dict[str, Any]], pids: list[int]) -> list[Any]:
    """Each row's ModelOutput (or the exception it raised): one vectorised call where the
    model has one (`CountModel.predict_many`), else row by row."""
    many = getattr(model, "predict_many", None)
    if many is not None and len(rows) > 1:
        try:
            return list(many(rows, pids))
        except Exception:  # one bad row must not fail the others: row by row below
            log.warning("vectorised prediction failed; predicting row by row", exc_info=True)
    out: list[Any] = []
    for row, pid in zip(rows, pids, strict=True):
        try:
            out.append(model.predict(row, pid))
        except Exception as exc:
            out.append(exc)
    return out


def _compute(jobs: list[tuple[Served, list[tuple[_Prop, dt.date, str]]]]) -> list[Answer]:
    """Per model, its props' answers as JSON (run in a worker thread: parsing the vectors, the
    model, pricing and serialising are all CPU)."""
    answers: list[Answer] = []
    for served, props in jobs:
        rows = [json.loads(features) for _, _, features in props]
        outputs = _outputs(served.model, rows, [p.player["player_id"] for p, _, _ in props])
        for (prop, as_of, _), row, output in zip(props, rows, outputs, strict=True):
            if isinstance(output, Exception):
                answers.append(output)
                continue
            try:
                answers.append(_response(served, prop, as_of, row, output))
            except Exception as exc:
                answers.append(exc)
    return answers


def _response(
    served: Served, prop: _Prop, as_of: dt.date, features: dict[str, Any], output: ModelOutput
) -> bytes:
    body, player_id = prop.body, prop.player["player_id"]
    model = Served(served.info, _Computed(served.model.stat, served.model.model_type, output))
    p = predict(
        model,
        features,
        line=body.line,
        odds_over=prop.odds_over,
        odds_under=prop.odds_under,
        player_id=player_id,
    )
    answer = PredictResponse(
        player=prop.player["player_name"],
        player_id=player_id,
        stat=body.stat,
        line=body.line,
        as_of=as_of,
        predicted_value=round(p.predicted_value, 4),
        over_probability=p.over_probability,
        under_probability=p.under_probability,
        push_probability=p.push_probability,
        model_over_probability=p.model_over_probability,
        line_weight=p.line_weight,
        recommendation=p.pricing.recommendation,
        confidence=p.pricing.confidence,
        expected_value=p.pricing.expected_value,
        kelly_fraction=p.pricing.kelly_fraction,
        odds_over=prop.odds_over,
        odds_under=prop.odds_under,
        model_version=p.model_version,
        fallback=p.fallback,
        explanation=[
            FeatureContribution(feature=c.feature, value=c.value, contribution=c.contribution)
            for c in p.contributions
        ],
        distribution=[DistributionPoint(value=v, probability=pr) for v, pr in chart(p.dist)],
        disclaimer=DISCLAIMER,
    )
    return answer.model_dump_json().encode()


class _Refused(Exception):
    """The request's rate-limit count, made on the way, refused it (see `DeferredHit`)."""


async def _admit(hit: security.DeferredHit | None) -> None:
    """Before the first database query: the request must be counted by then."""
    if hit is not None and not hit.settled:
        await hit.settle_alone()
        if hit.refused:
            raise _Refused


async def _predict_many(
    st: dict[str, Any],
    bodies: Sequence[PredictRequest],
    answers: list[Answer],
    *,
    hit: security.DeferredHit | None = None,
) -> None:
    """Answer every prop into `answers` (same order, filled as each is done, so what is done
    when a deadline cuts the rest off stays done). Batched at every step: the players behind
    the names in one query (most come from memory), the cache in one round trip, the feature
    vectors of the misses in one query, one vectorised call per model in one worker thread,
    the new answers cached in one round trip. A cache hit is the stored JSON, sent as it is.
    An exception that stops a step (PostgreSQL down) propagates; one that stops a single
    item's model or pricing becomes that item's answer. With `hit` (the request's rate-limit
    count, left to the route), the count rides in the cache lookup's round trip, or goes
    alone before a database query comes first; `_Refused` when it refuses the request."""
    book: ModelBook = st["book"]
    cache = prediction_cache(st, ttl_s=_settings(st).prediction_cache_seconds)
    players = await _find_players(st, [b.player for b in bodies], hit=hit)
    props: list[_Prop] = []
    unknown: list[int] = []
    for i, body in enumerate(bodies):
        player = players[normalize_name(body.player)]
        if player is None:
            unknown.append(i)
            continue
        served = book.for_stat(body.stat, player["player_id"])
        props.append(
            _Prop(
                i,
                body,
                player,
                served,
                body.odds_over or DEFAULT_AMERICAN_ODDS,
                body.odds_under or DEFAULT_AMERICAN_ODDS,
            )
        )
    if unknown:
        await _admit(hit)
        async with st["pool"].acquire() as conn:
            names = await db.all_names(conn=conn)
        for i in unknown:
            answers[i] = _unknown(bodies[i].player, names)

    lookups = [p for p in props if p.served is not None]
    bucket = hit.take() if hit is not None else None
    found = await cache.lookup(
        [(p.player["player_id"], _cache_params(p)) for p in lookups],
        count=(bucket.key, bucket.expire_s) if bucket else None,
    )
    if hit is not None and bucket is not None:
        hit.settle(bucket, found.count, found.error)
        if hit.refused:
            raise _Refused
    for prop, (key, raw) in zip(lookups, found.entries, strict=True):
        prop.key = key
        if raw is not None:
            answers[prop.index] = raw
    misses = [p for p in props if answers[p.index] is None]
    if not misses:
        return

    await _admit(hit)
    async with st["pool"].acquire() as conn:
        vectors = await db.vectors_for_many(
            conn=conn, wanted=[(p.player["player_id"], p.body.game_date) for p in misses]
        )
    jobs: dict[int, tuple[Served, list[tuple[_Prop, dt.date, str]]]] = {}
    for prop in misses:
        vector = vectors.get((prop.player["player_id"], prop.body.game_date))
        if vector is None:
            detail = f"no games for {prop.player['player_name']} before {prop.body.game_date}"
            answers[prop.index] = ItemFailed("not_found", 404, {"detail": detail})
        elif prop.served is None:
            detail = f"no production model for {prop.body.stat.value} yet"
            answers[prop.index] = ItemFailed(
                "error", 503, ErrorBody(detail=detail).model_dump(), headers={"Retry-After": "30"}
            )
        else:
            jobs.setdefault(id(prop.served), (prop.served, []))[1].append((prop, *vector))
    if not jobs:
        return
    # The models run off the event loop (one thread hop for the whole batch), so other
    # requests go on meanwhile.
    computed = await asyncio.to_thread(_compute, list(jobs.values()))
    done = [prop for _, props in jobs.values() for prop, _, _ in props]
    for prop, answer in zip(done, computed, strict=True):
        answers[prop.index] = answer
    await cache.put(
        [(p.key, a) for p, a in zip(done, computed, strict=True) if isinstance(a, bytes)]
    )


def _cache_params(prop: _Prop) -> dict[str, Any]:
    """Every input of a prediction (the cache key's digest); the model version is one."""
    body = prop.body
    assert prop.served is not None
    return {
        "name": normalize_name(body.player),
        "stat": body.stat.value,
        "line": body.line,
        "odds_over": prop.odds_over,
        "odds_under": prop.odds_under,
        "game_date": body.game_date,
        "opponent": body.opponent,
        "model_version": prop.served.info.version,
    }


def _json(raw: bytes) -> Response:
    return Response(raw, media_type="application/json")


@router.post(
    "/predict",
    response_model=PredictResponse,
    responses={404: {"model": ErrorBody}, 503: {"model": ErrorBody}},
    summary="P(over/under/push), value and explanation for one player prop",
)
async def predict_prop(body: PredictRequest, st: State, request: Request) -> Response:
    answers: list[Answer] = [None]
    try:
        await _predict_many(st, [body], answers, hit=security.deferred_hit(request.scope))
    except _Refused:
        # A stand-in: the security middleware answers a refused request with its 429.
        return Response(status_code=429)
    answer = answers[0]
    if isinstance(answer, ItemFailed):
        return answer.response()
    if isinstance(answer, Exception):
        raise answer
    assert answer is not None
    # The JSON the model's answer was serialised to once (a cache hit: as stored): sent as it
    # is, not validated into the response model and serialised again.
    return _json(answer)


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


def _check_batch_size(st: dict[str, Any], n: int) -> GatewaySettings:
    settings = _settings(st)
    if n > settings.batch_max_items:
        raise HTTPException(422, f"at most {settings.batch_max_items} items per batch")
    return settings


async def _run_batch(
    st: dict[str, Any], makers: Sequence[Callable[[], Awaitable[T]]]
) -> list[tuple[ItemStatus, T | None, str | None, list[str] | None]]:
    """Every item concurrently, each within its timeout, all within the batch budget (what is
    not done by then is cancelled and reported as a timeout)."""
    settings = _check_batch_size(st, len(makers))
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


def _batch_json(answers: Sequence[Answer], *, late: str) -> bytes:
    """The BatchPredictResponse of these answers as JSON, each prediction spliced in as the
    bytes it already is (parsing and re-serialising 50 of them cost more than the rest of the
    batch). The same document the response model gives (a unit test holds them equal)."""
    items: list[str] = []
    ok = 0
    for i, answer in enumerate(answers):
        head: dict[str, Any] = {"index": i}
        if isinstance(answer, bytes):
            ok += 1
            head["status"] = "ok"
            items.append(_dumps(head)[:-1] + ',"prediction":' + answer.decode() + "}")
            continue
        if isinstance(answer, ItemFailed):
            head.update(status=answer.status, error=str(answer))
            if suggestions := answer.content.get("suggestions"):
                head["suggestions"] = suggestions
        elif answer is None:
            head.update(status="timeout", error=late)
        else:
            head.update(status="error", error=f"could not answer: {type(answer).__name__}")
        items.append(_dumps(head))
    envelope = _dumps(
        {"ok": ok, "failed": len(answers) - ok, "disclaimer": DISCLAIMER, "help_links": HELP_LINKS}
    )
    return (envelope[:-1] + ',"results":[' + ",".join(items) + "]}").encode()


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@router.post(
    "/batch_predict",
    response_model=BatchPredictResponse,
    summary="Up to 50 props at once; partial results, a status per item",
)
async def batch_predict(body: BatchPredictRequest, st: State) -> Response:
    """The items go through together (see `_predict_many`), so they share one deadline: the
    item timeout, within the batch budget. What is done by then is answered; the rest is a
    timeout. A step that fails (a dependency down) fails only the items not done yet."""
    settings = _check_batch_size(st, len(body.items))
    answers: list[Answer] = [None] * len(body.items)
    item_s, budget_s = settings.batch_item_timeout_seconds, settings.batch_budget_seconds
    late = (
        f"not done within {item_s:g} s"
        if item_s < budget_s
        else f"batch budget of {budget_s:g} s spent"
    )
    try:
        await asyncio.wait_for(_predict_many(st, body.items, answers), min(item_s, budget_s))
    except TimeoutError:
        pass  # what is not done is reported as a timeout
    except Exception as exc:  # a failed step fails the items it had not answered yet
        log.exception("batch step failed")
        answers = [exc if a is None else a for a in answers]
    for answer in answers:
        if isinstance(answer, Exception) and not isinstance(answer, ItemFailed):
            log.error("batch item failed", exc_info=answer)
    return _json(_batch_json(answers, late=late))


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
    params = {
        "name": normalize_name(name),
        "game_date": str(game_date),
        "opponent": opponent,
        "is_home": is_home,
    }
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
        player_context,
        player_id=player["player_id"],
        player_name=player["player_name"],
        history=games,
        league=st["league"],
        game_date=game_date,
        opponent=opponent,
        is_home=is_home,
    )
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
        return await _context_or_fail(
            st, name=name, game_date=game_date, opponent=opponent, is_home=is_home
        )
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
    found = await _context_or_fail(
        st, name=q.player_name, game_date=q.game_date, opponent=q.opponent, is_home=q.is_home
    )
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
    found = await _context(
        st, name=player_name, game_date=game_date, opponent=opponent, is_home=is_home
    )
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
    Path(
        pattern=r"^[a-z0-9_]+(:[1-9][0-9]*)?$",
        description="Serving key: a stat, or '<stat>:<player_id>'",
        examples=["points", "points:2544"],
    ),
]


async def _model_command(
    st: dict[str, Any], action: Literal["promote", "rollback"], key: str, principal: ApiKey
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
    )
    try:
        # Keyed by serving key: one partition, so moves of a key apply in the order asked.
        await publish_model(st["broker"], command, topic=topics.MODEL_COMMANDS, key=key.encode())
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
