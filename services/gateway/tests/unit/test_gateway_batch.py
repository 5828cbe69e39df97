"""Batches without I/O: the use case that answers the props is replaced by a fake, so these
check only the batch contract (order, statuses, deadline, batch budget, limits, 422 on bad
bodies)."""

import asyncio
import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from statmuse_gateway import contexts, predicting
from statmuse_gateway.batch_json import batch_json
from statmuse_gateway.predicting import Answer
from statmuse_gateway.routes import admin, models, players, predictions
from statmuse_gateway.runtime import GatewayRuntime
from statmuse_gateway.schemas import (
    BatchPredictItem,
    BatchPredictResponse,
    PlayerContextQuery,
    PredictRequest,
    PredictResponse,
)
from statmuse_gateway.service import ItemFailed
from statmuse_gateway.settings import GatewaySettings

from .fakes import fake_runtime

PREDICTION = {
    "player": "LeBron James",
    "player_id": 2544,
    "stat": "points",
    "line": 25.5,
    "as_of": "2024-01-01",
    "predicted_value": 26.1,
    "over_probability": 0.52,
    "under_probability": 0.48,
    "push_probability": 0.0,
    "model_over_probability": 0.55,
    "line_weight": 0.45,
    "recommendation": "PASS",
    "confidence": 0.04,
    "expected_value": -0.01,
    "kelly_fraction": 0.0,
    "odds_over": -110,
    "odds_under": -110,
    "model_version": "v1",
    "fallback": None,
    "explanation": [],
    "distribution": [],
}


def scripted(body: PredictRequest) -> bytes:
    """Behaviour by player name: a way to script each item's fate."""
    if body.player == "Nobody Here":
        raise ItemFailed(
            "not_found",
            404,
            {"detail": "unknown player 'Nobody Here'", "suggestions": ["Nobody There"]},
        )
    if body.player == "No Model":
        raise ItemFailed(
            "error",
            503,
            {"detail": "no production model for points yet"},
            headers={"Retry-After": "30"},
        )
    if body.player == "Crash Test":
        raise OSError("connection refused")
    answer = PredictResponse.model_validate(
        {**PREDICTION, "player": body.player, "line": body.line}
    )
    return answer.model_dump_json().encode()


async def fake_predict_props(
    _: GatewayRuntime, bodies: list[PredictRequest], answers: list[Answer]
) -> None:
    """What `predict_props` does with each item, scripted: answers fill in as they are done;
    "Slow Poke" is never done; "Database Down" stops the whole step after the others."""
    for i, body in enumerate(bodies):
        if body.player not in ("Slow Poke", "Database Down"):
            try:
                answers[i] = scripted(body)
            except Exception as exc:  # ItemFailed included, as the real one stores them
                answers[i] = exc
    if any(b.player == "Database Down" for b in bodies):
        raise OSError("connection refused")
    if any(b.player == "Slow Poke" for b in bodies):
        await asyncio.sleep(30)


async def fake_context(_: GatewayRuntime, q: PlayerContextQuery) -> dict[str, Any]:
    if q.player_name == "Nobody Here":
        raise ItemFailed("not_found", 404, {"detail": "unknown player", "suggestions": []})
    return {"player_name": q.player_name, "stat": q.stat_type}


def api_app() -> FastAPI:
    app = FastAPI()
    for routes in (predictions, models, players, admin):
        app.include_router(routes.router)
    return app


def client(settings: GatewaySettings) -> httpx.AsyncClient:
    app = api_app()
    app.state.runtime = fake_runtime(settings)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


@pytest.fixture
def settings() -> GatewaySettings:
    return GatewaySettings(
        database_url="postgresql://x", batch_item_timeout_seconds=0.2, batch_budget_seconds=2.0
    )


@pytest.fixture(autouse=True)
def fakes(monkeypatch: pytest.MonkeyPatch) -> None:
    # The seam both the single and the batch endpoint go through.
    monkeypatch.setattr(predicting, "predict_props", fake_predict_props)
    monkeypatch.setattr(contexts, "context_for_query", fake_context)


def item(player: str, line: float = 25.5) -> dict[str, Any]:
    return {"player": player, "stat": "points", "line": line}


async def test_every_status_in_request_order(settings):
    players = [
        "LeBron James",
        "Nobody Here",
        "No Model",
        "Slow Poke",
        "Crash Test",
        "Stephen Curry",
    ]
    async with client(settings) as c:
        r = await c.post("/api/batch_predict", json={"items": [item(p) for p in players]})
    assert r.status_code == 200
    body = r.json()
    got = [(x["index"], x["status"]) for x in body["results"]]
    assert got == [
        (0, "ok"),
        (1, "not_found"),
        (2, "error"),
        (3, "timeout"),
        (4, "error"),
        (5, "ok"),
    ]
    assert (body["ok"], body["failed"]) == (2, 4)
    ok, missing, no_model, slow, crash, _ = body["results"]
    assert ok["prediction"]["player"] == "LeBron James"
    assert "error" not in ok
    assert missing["suggestions"] == ["Nobody There"]
    assert "prediction" not in missing
    assert no_model["error"] == "no production model for points yet"
    assert "0.2 s" in slow["error"]
    assert crash["error"] == "could not answer: OSError"  # no internals leak
    assert "1-800-GAMBLER" in body["disclaimer"]


async def test_items_share_one_deadline(settings):
    async with client(settings) as c:
        started = asyncio.get_running_loop().time()
        r = await c.post("/api/batch_predict", json={"items": [item("Slow Poke")] * 20})
        elapsed = asyncio.get_running_loop().time() - started
    assert [x["status"] for x in r.json()["results"]] == ["timeout"] * 20
    assert elapsed < 2.0  # 20 items x 0.2 s each would take 4 s one after another


async def test_a_failed_step_fails_only_the_items_not_done(settings):
    async with client(settings) as c:
        r = await c.post(
            "/api/batch_predict",
            json={"items": [item("LeBron James"), item("Database Down"), item("Nobody Here")]},
        )
    body = r.json()
    assert r.status_code == 200
    assert [(x["status"], x.get("error")) for x in body["results"]] == [
        ("ok", None),
        ("error", "could not answer: OSError"),
        ("not_found", "unknown player 'Nobody Here'"),
    ]
    assert (body["ok"], body["failed"]) == (1, 2)


def test_the_batch_json_is_the_response_model():
    """The batch body is spliced together from the predictions' stored JSON: it must be
    exactly what BatchPredictResponse would say."""
    prediction = PredictResponse.model_validate(PREDICTION)
    failed = ItemFailed(
        "not_found", 404, {"detail": "unknown player 'X Y'", "suggestions": ["X Z"]}
    )
    no_model = ItemFailed("error", 503, {"detail": "no production model for points yet"})
    answers: list[Answer] = [
        prediction.model_dump_json().encode(),
        failed,
        None,
        no_model,
        KeyError("x"),
    ]
    got = json.loads(batch_json(answers, late="not done within 5 s"))
    want = BatchPredictResponse(
        ok=1,
        failed=4,
        results=[
            BatchPredictItem(index=0, status="ok", prediction=prediction),
            BatchPredictItem(
                index=1, status="not_found", error="unknown player 'X Y'", suggestions=["X Z"]
            ),
            BatchPredictItem(index=2, status="timeout", error="not done within 5 s"),
            BatchPredictItem(index=3, status="error", error="no production model for points yet"),
            BatchPredictItem(index=4, status="error", error="could not answer: KeyError"),
        ],
    )
    assert got == want.model_dump(mode="json")
    assert list(got) == list(want.model_dump(mode="json"))  # the same field order too


async def test_the_batch_budget_cuts_items_off(settings):
    tight = settings.model_copy(
        update={"batch_item_timeout_seconds": 5.0, "batch_budget_seconds": 0.3}
    )
    async with client(tight) as c:
        r = await c.post(
            "/api/batch_predict", json={"items": [item("LeBron James"), item("Slow Poke")]}
        )
    body = r.json()
    assert r.status_code == 200
    assert [x["status"] for x in body["results"]] == ["ok", "timeout"]
    assert "budget" in body["results"][1]["error"]


async def test_more_than_fifty_items_or_a_bad_envelope_is_422(settings):
    async with client(settings) as c:
        assert (
            await c.post("/api/batch_predict", json={"items": [item("LeBron James")] * 50})
        ).status_code == 200
        too_many = await c.post("/api/batch_predict", json={"items": [item("LeBron James")] * 51})
        assert too_many.status_code == 422
        assert "50" in str(too_many.json()["detail"])
        assert (await c.post("/api/batch_predict", json={"items": []})).status_code == 422
        assert (await c.post("/api/batch_predict", json=[item("x y")])).status_code == 422
        extra = await c.post("/api/batch_predict", json={"items": [item("x y")], "more": 1})
        assert extra.status_code == 422


async def test_an_invalid_item_gets_its_own_status_and_the_others_are_answered(settings):
    items = [
        item("LeBron James"),
        item("LeBron James", 25.3),  # not a half point
        {"player": "Stephen Curry", "stat": "points", "line": True},  # not a number
        {"player": "x" * 5000, "stat": "points", "line": 20.5},  # too long, echoed cut
        {**item("Stephen Curry"), "opponent": "XYZ"},  # no such team
        "not an object",
        item("Stephen Curry"),
    ]
    async with client(settings) as c:
        r = await c.post("/api/batch_predict", json={"items": items})
    assert r.status_code == 200
    body = BatchPredictResponse.model_validate_json(r.content)
    statuses = [x.status for x in body.results]
    assert statuses == ["ok", "invalid", "invalid", "invalid", "invalid", "invalid", "ok"]
    assert [x.prediction.player for x in body.results if x.prediction] == [
        "LeBron James",
        "Stephen Curry",
    ]
    errors = [x.error or "" for x in body.results]
    assert "line" in errors[1]
    assert "half" in errors[1]
    assert "line" in errors[2]
    assert "number" in errors[2]
    assert "player" in errors[3]
    assert len(errors[3]) < 300
    assert "opponent" in errors[4]
    assert "team" in errors[4]
    assert (body.ok, body.failed) == (2, 5)


async def test_an_invalid_context_item_gets_its_own_status(settings):
    items = [{"player_name": "LeBron James"}, {"player_name": "LeBron James", "opponent": "XYZ"}]
    async with client(settings) as c:
        r = await c.post("/api/batch_player_context", json={"items": items})
    assert r.status_code == 200
    results = r.json()["results"]
    assert [x["status"] for x in results] == ["ok", "invalid"]
    assert "opponent" in results[1]["error"]


async def test_a_lower_configured_limit_is_enforced(settings):
    async with client(settings.model_copy(update={"batch_max_items": 3})) as c:
        r = await c.post("/api/batch_predict", json={"items": [item("LeBron James")] * 4})
    assert r.status_code == 422


async def test_batch_player_context(settings):
    items = [{"player_name": "LeBron James", "stat_type": "points"}, {"player_name": "Nobody Here"}]
    async with client(settings) as c:
        r = await c.post("/api/batch_player_context", json={"items": items})
        too_many = await c.post(
            "/api/batch_player_context", json={"items": [{"player_name": "LeBron James"}] * 51}
        )
    body = r.json()
    assert r.status_code == 200
    assert [x["status"] for x in body["results"]] == ["ok", "not_found"]
    assert body["results"][0]["context"] == {"player_name": "LeBron James", "stat": "points"}
    assert (body["ok"], body["failed"]) == (1, 1)
    assert too_many.status_code == 422


async def test_single_predict_answers_as_before(settings):
    async with client(settings) as c:
        ok = await c.post("/api/predict", json=item("LeBron James"))
        missing = await c.post("/api/predict", json=item("Nobody Here"))
        no_model = await c.post("/api/predict", json=item("No Model"))
    assert ok.status_code == 200
    assert ok.json()["model_version"] == "v1"
    assert missing.status_code == 404
    assert missing.json()["suggestions"] == ["Nobody There"]
    assert no_model.status_code == 503
    assert no_model.headers["retry-after"] == "30"


def test_openapi_has_examples(settings):
    app = api_app()
    schemas = app.openapi()["components"]["schemas"]
    for name in (
        "BatchPredictRequest",
        "BatchPredictResponse",
        "BatchPlayerContextRequest",
        "BatchPlayerContextResponse",
        "ModelCommandAccepted",
    ):
        assert schemas[name]["examples"], name
    assert schemas["BatchPredictRequest"]["properties"]["items"]["maxItems"] == 50
