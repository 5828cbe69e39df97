"""Admin alias moves: the gateway only publishes a command (the trainer owns the registry).
The broker is FastStream's TestKafkaBroker; the key check (security.keys.require_scope) is stood
in for by a dependency override here and tested with real keys in the integration tests."""

from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from faststream.kafka import TestKafkaBroker

from statmuse_gateway.routes import admin as admin_routes
from statmuse_shared.contract import topics
from statmuse_shared.contract.messages import ModelAliasRequested

from .fakes import fake_runtime, settings


@pytest.fixture
async def admin(unique):
    rt = fake_runtime()
    broker = rt.broker
    seen: list[ModelAliasRequested] = []

    @broker.subscriber(topics.MODEL_COMMANDS, group_id=f"t-{unique}")
    async def capture(command: ModelAliasRequested) -> None:
        seen.append(command)

    app = FastAPI()
    app.include_router(admin_routes.router)
    app.state.runtime = rt
    async with (
        TestKafkaBroker(broker),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        yield app, client, seen


def as_admin(app: FastAPI, principal: Any = None) -> None:
    app.dependency_overrides[admin_routes.ADMIN] = lambda: (
        principal or SimpleNamespace(key_id="k-admin")
    )


@pytest.mark.parametrize(("action", "key"), [("promote", "points"), ("rollback", "points:2544")])
async def test_a_move_is_published_as_a_command(admin, action, key):
    app, client, seen = admin
    as_admin(app)
    r = await client.post(f"/api/models/{key}/{action}")
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["accepted"] is True
    assert (body["action"], body["key"]) == (action, key)
    assert [(c.action, c.key, c.requested_by, c.event_id) for c in seen] == [
        (action, key, "apikey:k-admin", body["event_id"])
    ]


@pytest.mark.parametrize("key", ["Points", "points:abc", "points:0", "bogus", "points:1:2"])
async def test_not_a_serving_key_is_422(admin, key):
    app, client, seen = admin
    as_admin(app)
    assert (await client.post(f"/api/models/{key}/promote")).status_code == 422
    assert seen == []


async def test_moves_need_an_api_key(admin):
    _, client, seen = admin
    r = await client.post("/api/models/points/promote")
    assert r.status_code == 401
    assert seen == []


async def test_broker_down_is_503():
    app = FastAPI()
    app.include_router(admin_routes.router)
    app.state.runtime = fake_runtime(settings(kafka_bootstrap_servers="127.0.0.1:1"))
    as_admin(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.post("/api/models/points/rollback")
    assert r.status_code == 503
    assert r.headers["retry-after"] == "5"


@pytest.mark.parametrize(
    ("body", "share"),
    [
        ({"version": "v2026-12-07-points-voting", "mode": "canary", "share": 0.1}, 0.1),
        ({"version": "v2026-12-07-points-voting", "mode": "shadow"}, None),
    ],
)
async def test_a_pin_is_published_as_a_command_with_who_asked(admin, body, share):
    app, client, seen = admin
    as_admin(app)
    r = await client.post("/api/models/points/load", json=body)
    assert r.status_code == 202, r.text
    assert r.json()["action"] == "pin"
    [command] = seen
    assert (command.action, command.key, command.requested_by) == (
        "pin",
        "points",
        "apikey:k-admin",
    )
    assert (command.version, command.mode, command.share) == (body["version"], body["mode"], share)


async def test_an_unpin_is_published_as_a_command(admin):
    app, client, seen = admin
    as_admin(app)
    r = await client.delete("/api/models/points:2544/load")
    assert r.status_code == 202, r.text
    assert [(c.action, c.key, c.version) for c in seen] == [("unpin", "points:2544", None)]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"version": "v1", "mode": "canary"}, "a canary needs a share"),
        ({"version": "v1", "mode": "shadow", "share": 0.1}, "a shadow answers nobody"),
        ({"version": "v1", "mode": "canary", "share": 0.9}, "less than or equal to 0.5"),
        ({"version": "v1", "mode": "canary", "share": 0}, "greater than 0"),
        ({"version": "v1", "mode": "canary", "share": "0.1"}, "valid number"),
        ({"version": "v1", "mode": "live", "share": 0.1}, "'canary' or 'shadow'"),
        ({"version": "v1'; drop", "mode": "shadow"}, "pattern"),
        ({"version": "v1", "mode": "shadow", "extra": 1}, "Extra inputs"),
    ],
)
async def test_a_bad_pin_is_422_with_the_reason_and_nothing_is_published(admin, body, reason):
    app, client, seen = admin
    as_admin(app)
    r = await client.post("/api/models/points/load", json=body)
    assert r.status_code == 422
    assert reason in r.text
    assert seen == []


async def test_pins_need_an_admin_key(admin):
    _, client, seen = admin
    body = {"version": "v1", "mode": "shadow"}
    assert (await client.post("/api/models/points/load", json=body)).status_code == 401
    assert (await client.delete("/api/models/points/load")).status_code == 401
    assert seen == []
