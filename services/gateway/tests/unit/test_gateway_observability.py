"""Request metrics are labelled by route template, never by the raw path."""

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from statmuse_gateway import metrics, observability


def _count(method: str, route: str, status: str) -> float:
    value = metrics.REQUESTS.labels(method, route, status)._value.get()
    return float(value)


def test_requests_are_counted_by_template_and_status():
    app = FastAPI()

    @app.get("/things/{thing_id}")
    async def thing(thing_id: int) -> dict[str, int]:
        return {"id": thing_id}

    nested = APIRouter(prefix="/api")

    @nested.post("/props/{prop_id}")
    async def prop(prop_id: int) -> dict[str, int]:
        return {"id": prop_id}

    app.include_router(nested)
    observability.install(app)
    client = TestClient(app)
    before_ok = _count("GET", "/things/{thing_id}", "200")
    before_bad = _count("GET", "/things/{thing_id}", "422")
    before_unmatched = _count("GET", "unmatched", "404")
    assert client.get("/things/1").status_code == 200
    assert client.get("/things/2").status_code == 200
    assert client.get("/things/not-a-number").status_code == 422
    assert client.get("/nowhere/9").status_code == 404
    assert _count("GET", "/things/{thing_id}", "200") == before_ok + 2
    assert _count("GET", "/things/{thing_id}", "422") == before_bad + 1
    assert _count("GET", "unmatched", "404") == before_unmatched + 1
    assert _count("GET", "/things/1", "200") == 0  # no raw paths as labels
    before_nested = _count("POST", "/api/props/{prop_id}", "200")
    assert client.post("/api/props/7").status_code == 200
    assert _count("POST", "/api/props/{prop_id}", "200") == before_nested + 1
    assert _count("POST", "/api/props/7", "200") == 0
