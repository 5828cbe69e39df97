"""Batches without I/O: the per-item function is replaced by a fake, so these check only the
batch contract (order, statuses, per-item timeout, batch budget, limits, 422 on bad bodies)."""

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from statmuse_gateway.routes import api
from statmuse_gateway.schemas import PlayerContextQuery, PredictRequest, PredictResponse
from statmuse_gateway.settings import GatewaySettings

PREDICTION = {
    "player": "LeBron James", "player_id": 2544, "stat": "points", "line": 25.5,
    "as_of": "2024-01-01", "predicted_value": 26.1, "over_probability": 0.52,
    "under_probability": 0.48, "push_probability": 0.0, "recommendation": "PASS",
    "confidence": 0.04, "expected_value": -0.01, "kelly_fraction": 0.0, "odds_over": -110,
    "odds_under": -110, "model_version": "v1", "fallback": None, "explanation": [],
    "distribution": [],
}  # fmt: skip


async def fake_predict(_: dict[str, Any], body: PredictRequest) -> PredictResponse:
    """Behaviour by player name: a way to script each item's fate."""
    if body.player == "Nobody Here":
        raise api.ItemFailed("not_found", 404, {"detail": "unknown player 'Nobody Here'",
                                                "suggestions": ["Nobody There"]})  # fmt: skip
    if body.player == "No Model":
        raise api.ItemFailed("error", 503, {"detail": "no production model for points yet"},
                             headers={"Retry-After": "30"})  # fmt: skip
    if body.player == "Slow Poke":
        await asyncio.sleep(30)
    if body.player == "Crash Test":
        raise OSError("connection refused")
    return PredictResponse.model_validate({**PREDICTION, "player": body.player,
                                           "line": body.line})  # fmt: skip


async def fake_context(_: dict[str, Any], q: PlayerContextQuery) -> dict[str, Any]:
    if q.player_name == "Nobody Here":
        raise api.ItemFailed("not_found", 404, {"detail": "unknown player", "suggestions": []})
    return {"player_name": q.player_name, "stat": q.stat_type}


def client(settings: GatewaySettings) -> httpx.AsyncClient:
    app = FastAPI()
    app.include_router(api.router)
    app.state.service_state = {"settings": settings}
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


@pytest.fixture
def settings() -> GatewaySettings:
    return GatewaySettings(database_url="postgresql://x", batch_item_timeout_seconds=0.2,
                           batch_budget_seconds=2.0)  # fmt: skip


@pytest.fixture(autouse=True)
def fakes(monkeypatch: pytest.MonkeyPatch) -> None:
    # The seam both the single and the batch endpoint go through.
    async def fake_answer(st: dict[str, Any], body: Any, *, as_json: bool) -> Any:
        del as_json
        return await fake_predict(st, body)

    monkeypatch.setattr(api, "_predict_answer", fake_answer)
    monkeypatch.setattr(api, "_context_one", fake_context)


def item(player: str, line: float = 25.5) -> dict[str, Any]:
    return {"player": player, "stat": "points", "line": line}


async def test_every_status_in_request_order(settings):
    players = ["LeBron James", "Nobody Here", "No Model", "Slow Poke", "Crash Test",
               "Stephen Curry"]  # fmt: skip
    async with client(settings) as c:
        r = await c.post("/api/batch_predict", json={"items": [item(p) for p in players]})
    assert r.status_code == 200
    body = r.json()
    got = [(x["index"], x["status"]) for x in body["results"]]
    assert got == [(0, "ok"), (1, "not_found"), (2, "error"), (3, "timeout"), (4, "error"),
                   (5, "ok")]  # fmt: skip
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


async def test_items_run_concurrently(settings):
    async with client(settings) as c:
        started = asyncio.get_running_loop().time()
        r = await c.post("/api/batch_predict", json={"items": [item("Slow Poke")] * 20})
        elapsed = asyncio.get_running_loop().time() - started
    assert [x["status"] for x in r.json()["results"]] == ["timeout"] * 20
    assert elapsed < 2.0  # 20 items x 0.2 s each would take 4 s one after another


async def test_the_batch_budget_cuts_items_off(settings):
    tight = settings.model_copy(update={"batch_item_timeout_seconds": 5.0,
                                        "batch_budget_seconds": 0.3})  # fmt: skip
    async with client(tight) as c:
        r = await c.post("/api/batch_predict",
                         json={"items": [item("LeBron James"), item("Slow Poke")]})  # fmt: skip
    body = r.json()
    assert r.status_code == 200
    assert [x["status"] for x in body["results"]] == ["ok", "timeout"]
    assert "budget" in body["results"][1]["error"]


async def test_more_than_fifty_items_or_a_bad_item_is_422(settings):
    async with client(settings) as c:
        assert (
            await c.post("/api/batch_predict", json={"items": [item("LeBron James")] * 50})
        ).status_code == 200
        too_many = await c.post("/api/batch_predict", json={"items": [item("LeBron James")] * 51})
        assert too_many.status_code == 422
        assert "50" in str(too_many.json()["detail"])
        assert (await c.post("/api/batch_predict", json={"items": []})).status_code == 422
        bad = await c.post("/api/batch_predict", json={"items": [item("LeBron James", 25.3)]})
        assert bad.status_code == 422
        assert (await c.post("/api/batch_predict", json=[item("x y")])).status_code == 422


async def test_a_lower_configured_limit_is_enforced(settings):
    async with client(settings.model_copy(update={"batch_max_items": 3})) as c:
        r = await c.post("/api/batch_predict", json={"items": [item("LeBron James")] * 4})
    assert r.status_code == 422


async def test_batch_player_context(settings):
    items = [{"player_name": "LeBron James", "stat_type": "points"},
             {"player_name": "Nobody Here"}]  # fmt: skip
    async with client(settings) as c:
        r = await c.post("/api/batch_player_context", json={"items": items})
        too_many = await c.post("/api/batch_player_context",
                                json={"items": [{"player_name": "LeBron James"}] * 51})  # fmt: skip
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
    app = FastAPI()
    app.include_router(api.router)
    schemas = app.openapi()["components"]["schemas"]
    for name in ("BatchPredictRequest", "BatchPredictResponse", "BatchPlayerContextRequest",
                 "BatchPlayerContextResponse", "ModelCommandAccepted"):  # fmt: skip
        assert schemas[name]["examples"], name
    assert schemas["BatchPredictRequest"]["properties"]["items"]["maxItems"] == 50
