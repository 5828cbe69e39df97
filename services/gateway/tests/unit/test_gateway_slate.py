"""The slate: priced props from the predictor's topic into the read model, and GET /api/slate
over it (default date, filters, order, staleness, clear 4xx)."""

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from faststream.kafka import TestKafkaBroker

from statmuse_gateway.routes import slate
from statmuse_gateway.runtime import GatewayRuntime
from statmuse_shared.contract import topics

from .fakes import InMemoryReadModel, fake_runtime, priced

DAY = dt.date(2024, 3, 18)


def read_model(rt: GatewayRuntime) -> InMemoryReadModel:
    assert isinstance(rt.read_model, InMemoryReadModel)
    return rt.read_model


@pytest.fixture
async def rt() -> AsyncIterator[GatewayRuntime]:
    runtime = fake_runtime()
    runtime.bind()
    async with TestKafkaBroker(runtime.broker) as br:
        runtime.test_broker = br  # type: ignore[attr-defined]
        yield runtime


async def publish(rt: GatewayRuntime, *props: Any) -> None:
    await rt.test_broker.publish_batch(  # type: ignore[attr-defined]
        *(p.model_dump_json().encode() for p in props), topic=topics.PROPS_PRICED
    )


@pytest.fixture
def client(rt: GatewayRuntime) -> httpx.AsyncClient:
    app = FastAPI()
    app.include_router(slate.router)
    app.state.runtime = rt
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_priced_props_reach_the_slate_and_a_moved_line_leaves_it(rt: GatewayRuntime) -> None:
    await publish(rt, priced(1, day=DAY, line=24.5), priced(2, day=DAY, stat="assists", line=6.5))
    assert sorted(read_model(rt).props) == [
        (1, DAY, "points", 24.5),
        (2, DAY, "assists", 6.5),
    ]
    # Every book moved player 1's points line to 25.5.
    await publish(rt, priced(1, day=DAY, line=25.5))
    assert sorted(k for k in read_model(rt).props if k[0] == 1) == [(1, DAY, "points", 25.5)]


async def test_the_slate_lists_a_day_largest_edge_first_with_filters(
    rt: GatewayRuntime, client: httpx.AsyncClient
) -> None:
    await publish(
        rt,
        priced(1, day=DAY, over=0.56),
        priced(2, day=DAY, over=0.40, team="BOS", opponent="MIA"),
        priced(3, day=DAY, stat="rebounds", line=8.5, over=0.51),
        priced(4, day=DAY + dt.timedelta(days=1), over=0.6),
    )
    body = (await client.get("/api/slate", params={"date": str(DAY)})).json()
    assert body["date"] == str(DAY)
    assert [p["player_id"] for p in body["props"]] == [2, 1, 3]  # |edge| 0.10, 0.06, 0.01
    assert body["count"] == 3
    assert body["dates"] == [str(DAY + dt.timedelta(days=1))]
    first = body["props"][0]
    assert first["player"] == "Player 2"
    assert first["team"] == "BOS"
    assert first["edge"] == pytest.approx(-0.10)
    assert first["books_over_probability"] == pytest.approx(0.5)
    assert first["best"]["side"] == "under"
    assert first["recommendation"] == "UNDER"
    assert len(first["books"]) == 2

    def ids(params: dict[str, Any]) -> Any:
        return client.get("/api/slate", params={"date": str(DAY), **params})

    assert [p["player_id"] for p in (await ids({"stat": "rebounds"})).json()["props"]] == [3]
    assert [p["player_id"] for p in (await ids({"team": "BOS"})).json()["props"]] == [2]
    assert [p["player_id"] for p in (await ids({"min_edge": 0.05})).json()["props"]] == [2, 1]
    assert [p["player_id"] for p in (await ids({"limit": 1})).json()["props"]] == [2]


async def test_without_a_date_today_or_the_next_slate_else_the_last(
    rt: GatewayRuntime, client: httpx.AsyncClient
) -> None:
    assert slate.default_day([DAY, DAY + dt.timedelta(days=2)], DAY + dt.timedelta(days=1)) == (
        DAY + dt.timedelta(days=2)
    )
    assert slate.default_day([DAY], DAY + dt.timedelta(days=5)) == DAY
    assert slate.default_day([], DAY) is None
    missing = await client.get("/api/slate")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "no posted props yet"
    await publish(rt, priced(1, day=DAY))
    assert (await client.get("/api/slate")).json()["date"] == str(DAY)  # in the past: the last


async def test_a_day_without_props_is_a_404_naming_the_days_with_them(
    rt: GatewayRuntime, client: httpx.AsyncClient
) -> None:
    await publish(rt, priced(1, day=DAY), priced(2, day=DAY + dt.timedelta(days=2)))
    answer = await client.get("/api/slate", params={"date": str(DAY + dt.timedelta(days=1))})
    assert answer.status_code == 404
    assert answer.json()["detail"] == (
        f"no posted props on {DAY + dt.timedelta(days=1)}; dates with props: "
        f"{DAY}, {DAY + dt.timedelta(days=2)}"
    )


@pytest.mark.parametrize(
    "params",
    [
        {"date": "2024-13-01"},
        {"stat": "dunks"},
        {"team": "lakers"},
        {"min_edge": "-0.1"},
        {"min_edge": "nan"},
        {"limit": "0"},
    ],
)
async def test_bad_parameters_are_a_422(client: httpx.AsyncClient, params: dict[str, str]) -> None:
    assert (await client.get("/api/slate", params=params)).status_code == 422


async def test_old_data_is_marked_stale(rt: GatewayRuntime, client: httpx.AsyncClient) -> None:
    old = DAY - dt.timedelta(days=rt.settings.stale_after_days + 1)
    await publish(rt, priced(1, day=DAY), priced(2, day=DAY, over=0.6, data_as_of=old))
    props = (await client.get("/api/slate", params={"date": str(DAY)})).json()["props"]
    assert {p["player_id"]: p["stale"] for p in props} == {1: False, 2: True}
