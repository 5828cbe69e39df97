"""Admin alias moves with real API keys in PostgreSQL: only an admin key gets its command onto
the topic (FastStream's TestKafkaBroker here; the trainer's side runs on the real broker in
services/trainer/tests/integration/test_trainer_model_commands.py)."""

import httpx
import pytest
from fastapi import FastAPI
from faststream.kafka import TestKafkaBroker

from statmuse_gateway.adapters import apikeys
from statmuse_gateway.app import build_runtime
from statmuse_gateway.routes import admin as admin_routes
from statmuse_gateway.settings import GatewaySettings
from statmuse_shared.contract import topics
from statmuse_shared.contract.messages import ModelAliasRequested
from statmuse_shared.platform.db import Database, create_pool
from statmuse_shared.platform.migrations import migrate

pytestmark = pytest.mark.integration


async def test_only_an_admin_key_moves_aliases(database_url, unique):
    await migrate(database_url, schemas=["gateway"])
    pool = await create_pool(database_url)
    rt = build_runtime(
        GatewaySettings(database_url=database_url, group_id=f"gw-{unique}"), db=Database.of(pool)
    )
    broker = rt.broker
    seen: list[ModelAliasRequested] = []

    @broker.subscriber(topics.MODEL_COMMANDS, group_id=f"t-{unique}")
    async def capture(command: ModelAliasRequested) -> None:
        seen.append(command)

    app = FastAPI()
    app.include_router(admin_routes.router)
    app.state.runtime = rt
    try:
        admin, admin_token = await apikeys.create_key(conn=pool, name="ops", scopes=["admin"])
        _, write_token = await apikeys.create_key(conn=pool, name="app", scopes=["write"])
        async with (
            TestKafkaBroker(broker),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
        ):
            url = "/api/models/points:2544/rollback"
            assert (await c.post(url)).status_code == 401
            assert (await c.post(url, headers={"X-API-Key": write_token})).status_code == 403
            assert seen == []
            r = await c.post(url, headers={"X-API-Key": admin_token})
            assert r.status_code == 202, r.text
            assert [(m.action, m.key, m.requested_by, m.event_id) for m in seen] == [
                ("rollback", "points:2544", f"apikey:{admin.key_id}", r.json()["event_id"])
            ]
            await apikeys.revoke_key(conn=pool, key_id=admin.key_id)
            assert (await c.post(url, headers={"X-API-Key": admin_token})).status_code == 401
            assert len(seen) == 1
    finally:
        await rt.close()
        await pool.close()
