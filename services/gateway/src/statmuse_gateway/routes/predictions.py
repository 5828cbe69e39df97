"""POST /api/predict and /api/batch_predict: thin over the prediction use case
(`statmuse_gateway.predicting`), which a batch goes through as a batch."""

import asyncio
import logging

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from statmuse_gateway import predicting
from statmuse_gateway.batch_json import batch_json
from statmuse_gateway.dependencies import Gateway
from statmuse_gateway.predicting import Answer
from statmuse_gateway.routes.common import check_batch_size, failure, invalid_item, json_bytes
from statmuse_gateway.schemas import (
    BatchPredictRequest,
    BatchPredictResponse,
    ErrorBody,
    PredictRequest,
    PredictResponse,
)
from statmuse_gateway.security import daily
from statmuse_gateway.service import ItemFailed

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api", tags=["predictions"])


@router.post(
    "/predict",
    response_model=PredictResponse,
    responses={
        404: {
            "model": ErrorBody,
            "description": "Unknown player (with suggestions), or no scheduled game of his "
            "team on game_date (or it is postponed or cancelled)",
        },
        409: {
            "model": ErrorBody,
            "description": "The request does not fit the schedule: the opponent is not the "
            "game's, or the game's vector is not there yet (games before it to play)",
        },
        429: {
            "description": "Over the rate limit, or over the daily limit this API key's holder "
            "set (PUT /api/keys/me/daily_limit; with help links)"
        },
        503: {"model": ErrorBody},
    },
    summary="P(over/under/push), value and explanation for one player prop",
)
async def predict_prop(body: PredictRequest, rt: Gateway, request: Request) -> Response:
    if (refused := await daily.spend(request, rt, 1)) is not None:
        return refused
    answers: list[Answer] = [None]
    await predicting.predict_props(rt, [body], answers)
    answer = answers[0]
    if isinstance(answer, ItemFailed):
        return failure(answer)
    if isinstance(answer, Exception):
        raise answer
    assert answer is not None
    # The JSON the model's answer was serialised to once (a cache hit: as stored): sent as it
    # is, not validated into the response model and serialised again.
    return json_bytes(answer)


@router.post(
    "/batch_predict",
    response_model=BatchPredictResponse,
    responses={429: {"description": "Over the rate limit or the key's daily limit"}},
    summary="Up to 50 props at once; partial results, a status per item",
)
async def batch_predict(body: BatchPredictRequest, rt: Gateway, request: Request) -> Response:
    """The items go through together (see `predicting.predict_props`), so they share one
    deadline: the item timeout, within the batch budget. What is done by then is answered;
    the rest is a timeout. A step that fails (a dependency down) fails only the items not
    done yet."""
    settings = rt.settings
    check_batch_size(settings, len(body.items))
    answers: list[Answer] = [None] * len(body.items)
    valid: list[tuple[int, PredictRequest]] = []
    for i, raw in enumerate(body.items):
        try:
            valid.append((i, PredictRequest.model_validate(raw)))
        except ValidationError as exc:
            answers[i] = invalid_item(exc)
    if (refused := await daily.spend(request, rt, len(valid))) is not None:
        return refused
    done: list[Answer] = [None] * len(valid)
    item_s, budget_s = settings.batch_item_timeout_seconds, settings.batch_budget_seconds
    late = (
        f"not done within {item_s:g} s"
        if item_s < budget_s
        else f"batch budget of {budget_s:g} s spent"
    )
    try:
        if valid:
            await asyncio.wait_for(
                predicting.predict_props(rt, [b for _, b in valid], done), min(item_s, budget_s)
            )
    except TimeoutError:
        pass  # what is not done is reported as a timeout
    except Exception as exc:  # a failed step fails the items it had not answered yet
        log.exception("batch step failed")
        done = [exc if a is None else a for a in done]
    for (i, _), answer in zip(valid, done, strict=True):
        answers[i] = answer
    for answer in answers:
        if isinstance(answer, Exception) and not isinstance(answer, ItemFailed):
            log.error("batch item failed", exc_info=answer)
    return json_bytes(batch_json(answers, late=late))
