"""The rate limit holds across two gateway *processes* sharing one Redis: two real
`statmuse-gateway serve` processes, one API key, requests alternating between them."""

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from statmuse_gateway.adapters import apikeys
from statmuse_shared.platform.db import create_pool

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

LIMIT = 5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def two_gateways(database_url, infra, kafka_bootstrap, tmp_path) -> Iterator[list[str]]:
    exe = Path(sys.executable).with_name("statmuse-gateway")
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": infra.redis_url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "ARTIFACT_STORE_URL": f"file://{tmp_path / 'artifacts'}",
        "GATEWAY_RATE_LIMIT_PER_MINUTE": str(LIMIT),
        "GATEWAY_GROUP_ID": f"gw-{uuid.uuid4().hex[:8]}",
    }
    subprocess.run([str(exe), "migrate"], env=env, check=True, capture_output=True)
    procs, urls = [], []
    try:
        for i in range(2):
            port = _free_port()
            log = (tmp_path / f"gateway-{i}.log").open("w")
            procs.append(
                subprocess.Popen(
                    [str(exe), "serve", "--port", str(port)],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 90
        for url, proc in zip(urls, procs, strict=True):
            while True:
                assert proc.poll() is None, (tmp_path / "gateway-0.log").read_text()[-2000:]
                try:
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, f"{url} did not start"
                time.sleep(0.1)  # polling a starting process, with a deadline
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(30)


async def _key(database_url: str) -> str:
    pool = await create_pool(database_url, max_size=1)
    try:
        _, token = await apikeys.create_key(conn=pool, name="two-processes", scopes=["read"])
    finally:
        await pool.close()
    return token


def _wait_clear_of_minute_boundary() -> None:
    """The window is a calendar minute: start with at least 20 s of it left."""
    deadline = time.monotonic() + 61
    while time.time() % 60 > 40:
        assert time.monotonic() < deadline
        time.sleep(0.2)  # waiting on the clock itself


async def test_the_limit_is_shared_by_two_processes(two_gateways, database_url):
    # A fresh key has a counter of its own (other tests share the client address's).
    token = await _key(database_url)
    _wait_clear_of_minute_boundary()
    statuses = []
    async with httpx.AsyncClient(timeout=10, headers={"x-api-key": token}) as client:
        for i in range(LIMIT + 1):
            r = await client.get(f"{two_gateways[i % 2]}/api/models")
            statuses.append(r.status_code)
    assert statuses[:LIMIT] == [200] * LIMIT, statuses
    assert statuses[LIMIT] == 429, statuses
    assert 0 < int(r.headers["retry-after"]) <= 60
