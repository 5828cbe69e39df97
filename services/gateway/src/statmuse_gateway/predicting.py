"""The prediction use case: props in, answers out (no HTTP here).

`predict_props` takes every prop of a request through each step together: the players behind
the names (most from the in-process map, the rest from the read model in one query), the
prediction cache in one round trip, the feature vectors of the misses (from memory when
read lately under the player's current cache generation, the rest in one query), one
vectorised model call per model in one worker thread (`CountModel.predict_many`), each output
priced at its prop's line (`models.prediction.quote`), the new answers cached in one round
trip. A cache hit is the stored JSON, sent as it is. The single endpoint is a batch of one.
"""

import asyncio
import datetime as dt
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from statmuse_gateway.adapters.postgres import UNAVAILABLE
from statmuse_gateway.ports import Player, StoredVector, Vectors, cache_generation
from statmuse_gateway.runtime import GatewayRuntime
from statmuse_gateway.schemas import (
    DISCLAIMER,
    DistributionPoint,
    ErrorBody,
    FeatureContribution,
    GameInfo,
    PredictRequest,
    PredictResponse,
)
from statmuse_gateway.security.daily import day_of
from statmuse_gateway.service import (
    STALE_IF_DOWN_S,
    ItemFailed,
    Outputs,
    check_scheduled,
    check_served_game,
    unknown_player,
)
from statmuse_shared.contract.names import normalize_name
from statmuse_shared.models.output import ModelOutput, predict_rows
from statmuse_shared.models.prediction import books_over, chart, quote
from statmuse_shared.models.pricing import DEFAULT_AMERICAN_ODDS
from statmuse_shared.models.serving import Served

log = logging.getLogger(__name__)

# What a prop comes to: the JSON of its PredictResponse, why there is none (ItemFailed), the
# exception that stopped it, or None while it is not done.
Answer = bytes | ItemFailed | Exception | None
INLINE_PROPS = 4  # at most this many props with known model outputs are priced on the loop


@dataclass(slots=True)
class Prop:
    """One prop on its way through `predict_props`."""

    index: int
    body: PredictRequest
    player: Player
    served: Served | None
    odds_over: int
    odds_under: int
    key: str | None = None  # its cache entry, for storing a computed answer


def cache_params(prop: Prop) -> dict[str, Any]:
    """Every input of a prediction (the cache key's digest); the model version is one."""
    body = prop.body
    assert prop.served is not None
    return {
        "name": normalize_name(body.player),
        "stat": body.stat.value,
        "line": body.line,
        "odds_over": prop.odds_over,
        "odds_under": prop.odds_under,
        # The books' price changes the answer only for a model with a market layer: for the
        # others, odds spelled out as the defaults are the same entry as no odds.
        "books_over": books_over(body.odds_over, body.odds_under)
        if getattr(prop.served.model, "market", None) is not None
        else None,
        "game_date": body.game_date,
        "opponent": body.opponent,
        "model_version": prop.served.info.version,
    }


async def find_players(rt: GatewayRuntime, names: Sequence[str]) -> dict[str, Player | None]:
    """The player each name means, by normalised name (None for an unknown one): from the
    in-process map of recent answers, the names it lacks (unknown ones always among them)
    from the read model in one query."""
    now = time.monotonic()
    out = rt.names.get((normalize_name(name) for name in names), now=now)
    missing = [key for key, player in out.items() if player is None]
    if missing:
        try:
            found = await rt.read_model.players_by_names(missing)
        except UNAVAILABLE:
            # PostgreSQL down: names asked lately still mean whom they meant (STALE_IF_DOWN_S);
            # a name without such an answer needs the database, so the error goes on (a 503).
            kept = rt.names.get(missing, now=now, stale_s=STALE_IF_DOWN_S)
            if any(player is None for player in kept.values()):
                raise
            out.update(kept)
            return out
        rt.names.remember(found, now=now)
        out.update(found)
    return out


async def predict_props(
    rt: GatewayRuntime, bodies: Sequence[PredictRequest], answers: list[Answer]
) -> None:
    """Answer every prop into `answers` (same order, filled as each is done, so what is done
    when a deadline cuts the rest off stays done). An exception that stops a step (PostgreSQL
    down) propagates; one that stops a single item's model or pricing becomes that item's
    answer."""
    players = await find_players(rt, [b.player for b in bodies])
    props: list[Prop] = []
    unknown: list[int] = []
    today = day_of(dt.datetime.now(dt.UTC))  # the routing date of a prop without one
    for i, body in enumerate(bodies):
        player = players[normalize_name(body.player)]
        if player is None:
            unknown.append(i)
            continue
        props.append(
            Prop(
                i,
                body,
                player,
                # Production, or for a canary's share of (player, date) pairs the canary.
                rt.book.route(body.stat, player.player_id, body.game_date or today),
                body.odds_over or DEFAULT_AMERICAN_ODDS,
                body.odds_under or DEFAULT_AMERICAN_ODDS,
            )
        )
    if unknown:
        names = await rt.read_model.names()
        for i in unknown:
            answers[i] = unknown_player(bodies[i].player, names)

    # A date must be one of the player's team's games; an opponent, that game's.
    dated = [
        (p.player.team, p.body.game_date)
        for p in props
        if p.body.game_date is not None and p.player.team is not None
    ]
    games = await rt.read_model.games_of(dated) if dated else {}
    for prop in props:
        day = prop.body.game_date
        if day is not None:
            failure = check_scheduled(
                prop.player, day, games.get((prop.player.team or "", day)), prop.body.opponent
            )
            if failure is not None:
                answers[prop.index] = failure
    props = [p for p in props if answers[p.index] is None]

    lookups = [p for p in props if p.served is not None]
    found = await rt.prediction_cache.lookup(
        [(p.player.player_id, cache_params(p)) for p in lookups]
    )
    for prop, (key, raw) in zip(lookups, found, strict=True):
        prop.key = key
        if raw is not None:
            answers[prop.index] = raw
    misses = [p for p in props if answers[p.index] is None]
    if not misses:
        return

    vectors = await recent_vectors(rt, misses)
    jobs: dict[int, tuple[Served, list[tuple[Prop, StoredVector]]]] = {}
    for prop in misses:
        vector = vectors.get((prop.player.player_id, prop.body.game_date))
        if vector is None:
            detail = f"no games for {prop.player.player_name} before {prop.body.game_date}"
            answers[prop.index] = ItemFailed("not_found", 404, {"detail": detail})
        elif prop.served is None:
            detail = f"no production model for {prop.body.stat.value} yet"
            answers[prop.index] = ItemFailed(
                "error", 503, ErrorBody(detail=detail).model_dump(), headers={"Retry-After": "30"}
            )
        elif (
            failure := check_served_game(
                prop.player, prop.body.game_date, prop.body.opponent, game_info(vector)
            )
        ) is not None:
            answers[prop.index] = failure
        else:
            jobs.setdefault(id(prop.served), (prop.served, []))[1].append((prop, vector))
    if not jobs:
        return
    # The models run off the event loop (one thread hop for the whole batch), so other
    # requests go on meanwhile; a few props whose model outputs are known are only priced,
    # which costs less than the hop.
    freshness = Freshness(rt.settings.stale_after_days, dt.datetime.now(dt.UTC).date())
    work = list(jobs.values())
    known = known_outputs(work, rt.outputs)
    if known is not None:
        computed = compute(work, freshness, known)
    else:
        computed = await asyncio.to_thread(compute, work, freshness, rt.outputs)
    done = [prop for _, props in jobs.values() for prop, _ in props]
    for prop, answer in zip(done, computed, strict=True):
        answers[prop.index] = answer
    await rt.prediction_cache.put(
        [(p.key, a) for p, a in zip(done, computed, strict=True) if isinstance(a, bytes)]
    )


def known_outputs(
    work: list[tuple[Served, list[tuple[Prop, StoredVector]]]], outputs: Outputs
) -> Outputs | None:
    """When there are at most `INLINE_PROPS` props and each one's model output is known: those
    outputs, held apart (a worker thread can evict them from `outputs` meanwhile), so the
    props are only priced."""
    if sum(len(props) for _, props in work) > INLINE_PROPS:
        return None
    held = Outputs(capacity=INLINE_PROPS)
    for served, props in work:
        for _, vector in props:
            key = (served.info.version, vector.event_id)
            output = outputs.get(key)
            if output is None:
                return None
            held.put(key, output)
    return held


async def recent_vectors(rt: GatewayRuntime, props: Sequence[Prop]) -> Vectors:
    """Each prop's vector: those read lately under the player's current cache generation from
    memory (`RecentVectors`), the rest from the read model in one query."""
    out: Vectors = {}
    wanted: list[Prop] = []
    for prop in props:
        at = (prop.player.player_id, prop.body.game_date)
        known = None if prop.key is None else rt.vectors.get(recent_key(prop))
        if known is not None:
            out[at] = known
        else:
            wanted.append(prop)
    if wanted:
        try:
            read = await rt.read_model.vectors_for(
                [(p.player.player_id, p.body.game_date) for p in wanted]
            )
        except UNAVAILABLE:
            # PostgreSQL down: a vector read lately under the player's current generation
            # answers for STALE_IF_DOWN_S past its TTL; any other needs the database (a 503).
            for prop in wanted:
                kept = (
                    rt.vectors.get(recent_key(prop), stale_s=STALE_IF_DOWN_S) if prop.key else None
                )
                if kept is None:
                    raise
                out[(prop.player.player_id, prop.body.game_date)] = kept
            return out
        out.update(read)
        for prop in wanted:
            vector = read.get((prop.player.player_id, prop.body.game_date))
            if vector is not None and prop.key is not None:
                rt.vectors.put(recent_key(prop), vector)
    return out


def recent_key(prop: Prop) -> tuple[str, dt.date | None]:
    assert prop.key is not None
    return cache_generation(prop.key), prop.body.game_date


@dataclass(frozen=True, slots=True)
class Freshness:
    """When an answer's data is stale: more than `after_days` before the game it is for, or
    before `today` when that game is not known."""

    after_days: int
    today: dt.date

    def stale(self, data_as_of: dt.date | None, game: GameInfo | None) -> bool:
        if data_as_of is None:
            return False
        reference = game.game_date if game is not None else self.today
        return (reference - data_as_of).days > self.after_days


def model_outputs(
    served: Served, props: list[tuple[Prop, StoredVector]], known: Outputs
) -> list[ModelOutput | Exception]:
    """Each prop's model output: those known by (model version, vector) reused, the rest
    computed in one vectorised call (each vector parsed once, however many props share it)
    and remembered."""
    version = served.info.version
    found: list[ModelOutput | Exception | None] = [
        known.get((version, vector.event_id)) for _, vector in props
    ]
    todo: dict[str, list[int]] = {}  # vector event id -> the props waiting for it
    for i, (_, vector) in enumerate(props):
        if found[i] is None:
            todo.setdefault(vector.event_id, []).append(i)
    if todo:
        firsts = [positions[0] for positions in todo.values()]
        rows = [props[i][1].values() for i in firsts]
        computed = predict_rows(served.model, rows, [props[i][0].player.player_id for i in firsts])
        for (event_id, positions), output in zip(todo.items(), computed, strict=True):
            if not isinstance(output, Exception):
                known.put((version, event_id), output)
            for i in positions:
                found[i] = output
    return [output for output in found if output is not None]


def compute(
    jobs: list[tuple[Served, list[tuple[Prop, StoredVector]]]],
    freshness: Freshness,
    known: Outputs,
) -> list[Answer]:
    """Per model, its props' answers as JSON (run in a worker thread: parsing the vectors, the
    model, pricing and serialising are all CPU); model outputs reused from `known`."""
    answers: list[Answer] = []
    for served, props in jobs:
        found = model_outputs(served, props, known)
        for (prop, vector), output in zip(props, found, strict=True):
            if isinstance(output, Exception):
                answers.append(output)
                continue
            try:
                answers.append(response_json(served, prop, vector, output, freshness))
            except Exception as exc:
                answers.append(exc)
    return answers


def game_info(vector: StoredVector) -> GameInfo | None:
    """The game the vector is for, from its GameRef; None for a 'next' vector."""
    if vector.game is None:
        return None
    ref = json.loads(vector.game)
    return GameInfo(
        game_date=ref["game_date"],
        opponent=ref["opponent"],
        home=ref["is_home"],
        season_type=ref["season_type"],
    )


def response_json(
    served: Served, prop: Prop, vector: StoredVector, output: ModelOutput, freshness: Freshness
) -> bytes:
    """The prop's PredictResponse as JSON: the model's output priced at its line, with the
    game it is for and how old its data is."""
    body, player_id = prop.body, prop.player.player_id
    game = game_info(vector)
    p = quote(
        served.info,
        output,
        line=body.line,
        odds_over=prop.odds_over,
        odds_under=prop.odds_under,
        books_over=books_over(body.odds_over, body.odds_under),
    )
    answer = PredictResponse(
        player=prop.player.player_name,
        player_id=player_id,
        stat=body.stat,
        line=body.line,
        as_of=vector.as_of,
        game=game,
        data_as_of=vector.data_as_of,
        stale=freshness.stale(vector.data_as_of, game),
        predicted_value=round(p.predicted_value, 4),
        over_probability=p.over_probability,
        under_probability=p.under_probability,
        push_probability=p.push_probability,
        model_over_probability=p.model_over_probability,
        line_weight=p.line_weight,
        method=p.method,
        books_over_probability=p.books_over_probability,
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
