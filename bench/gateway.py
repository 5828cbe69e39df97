"""Gateway latency and throughput on loopback, against a running stack (`statmuse demo`).

Bounded runs, each printing p50/p95/p99 latency, the achieved rate and the failures:
1. `/api/predict`, uncached (every request a new player/line), paced at 200 requests/s
   (goal: p95 <= 10 ms); then every body new again for the same players, stats and lines,
   whose model outputs the gateway computed and reuses (an output depends on the vector and
   the model, not on the line or the odds): paced at 500/s (goal: p95 <= 5 ms) and as fast as
   16 connections go (goal: >= 1,500 requests/s per process);
2. `/api/predict`, warm cache (one request repeated), as fast as 16 connections go
   (goal: >= 3,000 requests/s per gateway process);
3. `/api/batch_predict` with 50 items, uncached (goal: p95 <= 100 ms), and cached;
baselines, measured in the same run: `/health` on the same 16 connections (the HTTP stack
alone: no Redis, no body), the uncached single predict against the cached one, and the warm
cache run again through an httpx client (the load generator this script used before).

The load comes from a lean HTTP/1.1 client: keep-alive connections over asyncio streams,
request bytes built once, a response read as its status line, headers and Content-Length
body. httpx cost about one core at 500 requests/s, on a machine where the gateway and the
whole stack share two; this client costs a small fraction of that (the run prints the
generator's own CPU time). Every response's status is checked: anything but 200 (or a batch
with a failed item) counts as a failure; a 429 stops the run.

The gateway's rate limit (100/min per client by default) would stop a load run: start the
stack with `GATEWAY_RATE_LIMIT_PER_MINUTE=1000000` for benchmarking.

    GATEWAY_RATE_LIMIT_PER_MINUTE=1000000 statmuse demo
    uv run python bench/gateway.py [http://127.0.0.1:8000]

One script, over 400 lines, read top to bottom as one measurement: its load generator, its
runs and its report belong together.
"""

import asyncio
import csv
import gzip
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _infra import machine_busy  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data" / "nba" / "player_game_logs" / "2023-24.csv.gz"
STATS = ("points", "rebounds", "assists", "threes", "pra")
TIMEOUT_S = 30.0


def players(limit: int = 300) -> list[str]:
    counts: dict[str, int] = {}
    with gzip.open(DATA, "rt", newline="") as f:
        for r in csv.DictReader(f):
            counts[r["PLAYER_NAME"]] = counts.get(r["PLAYER_NAME"], 0) + 1
    return sorted(n for n, c in counts.items() if c >= 40)[:limit]


# --- the lean HTTP/1.1 client ---------------------------------------------------------------


class HttpError(Exception):
    """The server answered something this client cannot read (or closed the connection)."""


@dataclass
class Request:
    """One request's bytes, built once and sent as often as needed."""

    raw: bytes

    @classmethod
    def make(cls, host: str, method: str, path: str, body: object = None) -> "Request":
        payload = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: statmuse-bench\r\n"
        if body is not None:
            head += "Content-Type: application/json\r\n"
        head += f"Content-Length: {len(payload)}\r\n\r\n"
        return cls(head.encode("ascii") + payload)


class Connection:
    """A keep-alive connection: one request at a time, the response read by Content-Length."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.open = True

    @classmethod
    async def connect(cls, host: str, port: int) -> "Connection":
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
        return cls(reader, writer)

    async def send(self, request: Request, *, want_body: bool = False) -> tuple[int, bytes]:
        """(status, body); the body only when asked for (it is always read off the wire)."""
        self.writer.write(request.raw)
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            self.open = False
            raise HttpError("the connection closed before a response") from exc
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            self.open = False
            raise HttpError(f"not an HTTP/1.1 status line: {lines[0]!r}")
        status = int(parts[1])
        length = None
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            lowered = name.lower()
            if lowered == b"content-length":
                length = int(value)
            elif lowered == b"connection" and value.strip().lower() == b"close":
                self.open = False
            elif lowered == b"transfer-encoding":
                self.open = False
                raise HttpError("a chunked response (this client reads Content-Length only)")
        if length is None:
            self.open = False
            raise HttpError("a response without Content-Length")
        body = await self.reader.readexactly(length)
        if not self.open:
            self.close()
        return status, body if want_body else b""

    def close(self) -> None:
        self.open = False
        self.writer.close()


class Pool:
    """Idle keep-alive connections, opened on demand (for the paced, open-loop run). One idle
    for longer than `IDLE_S` is dropped: the server closes it after its keep-alive timeout
    (uvicorn: 5 s), and a request sent on it then would fail through no fault of its own."""

    IDLE_S = 3.0

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.idle: list[tuple[float, Connection]] = []

    async def send(self, request: Request, *, want_body: bool = False) -> tuple[int, bytes]:
        conn = None
        while self.idle and conn is None:
            since, conn = self.idle.pop()
            if time.monotonic() - since > self.IDLE_S:
                conn.close()
                conn = None
        if conn is None:
            conn = await Connection.connect(self.host, self.port)
        try:
            answer = await conn.send(request, want_body=want_body)
        except BaseException:
            conn.close()
            raise
        if conn.open:
            self.idle.append((time.monotonic(), conn))
        return answer

    def close(self) -> None:
        for _, conn in self.idle:
            conn.close()
        self.idle.clear()


# --- measuring ------------------------------------------------------------------------------


async def gateway_cpu(host: str, port: int) -> float | None:
    """The gateway process's CPU seconds so far (`process_cpu_seconds_total` on its /metrics,
    which is never rate limited); None when it does not say."""
    conn = await Connection.connect(host, port)
    try:
        status, body = await conn.send(
            Request.make(f"{host}:{port}", "GET", "/metrics"), want_body=True
        )
    except (HttpError, OSError):
        return None
    finally:
        conn.close()
    for line in body.decode().splitlines() if status == 200 else ():
        if line.startswith("process_cpu_seconds_total "):
            return float(line.split()[1])
    return None


@dataclass
class Run:
    name: str
    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    seconds: float = 0.0
    cpu_s: float = 0.0  # this process's CPU time during the run
    gateway_cpu_s: float | None = None  # the gateway's, when its /metrics says
    busy: float = 0.0  # share of the machine's cores busy during the run (0..1)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def quantile(self, q: int) -> float:
        return statistics.quantiles(self.latencies, n=100)[q - 1]

    def report(self) -> "Run":
        gateway = ""
        if self.gateway_cpu_s is not None:
            gateway = (
                f"gateway {self.gateway_cpu_s / self.seconds:.0%} of a core "
                f"({self.gateway_cpu_s / len(self.latencies) * 1e3:.2f} ms CPU per "
                f"request), "
            )
        print(
            f"{self.name}: n={len(self.latencies)} p50 {self.quantile(50) * 1e3:.1f} ms, "
            f"p95 {self.quantile(95) * 1e3:.1f} ms, p99 {self.quantile(99) * 1e3:.1f} ms, "
            f"{self.rate:,.0f} requests/s, {self.failures} failed; load generator "
            f"{self.cpu_s / self.seconds:.0%} of a core, {gateway}machine {self.busy:.0%} "
            f"busy ({os.cpu_count()} cores)"
        )
        return self


class Measure:
    """Around a run: wall time, this process's CPU time, the gateway's CPU time (from its
    /metrics) and the machine's busy share. The machine is shared (the gateway, the rest of
    the stack, this generator, anything else running): the gateway's own CPU per request is
    the figure least moved by the rest."""

    def __init__(self, run: Run, host: str, port: int) -> None:
        self.run, self.host, self.port = run, host, port

    async def __aenter__(self) -> Run:
        self.gateway = await gateway_cpu(self.host, self.port)
        self.wall, self.cpu, self.jiffies = time.perf_counter(), time.process_time(), machine_busy()
        return self.run

    async def __aexit__(self, *_: object) -> None:
        self.run.seconds = time.perf_counter() - self.wall
        self.run.cpu_s = time.process_time() - self.cpu
        busy, total = machine_busy()
        if total > self.jiffies[1]:
            self.run.busy = (busy - self.jiffies[0]) / (total - self.jiffies[1])
        after = await gateway_cpu(self.host, self.port)
        if self.gateway is not None and after is not None:
            self.run.gateway_cpu_s = after - self.gateway


def _check(status: int, body: bytes, *, batch: bool) -> bool:
    if status == 429:
        sys.exit("rate limited: start the stack with GATEWAY_RATE_LIMIT_PER_MINUTE=1000000")
    if status != 200:
        return False
    return not batch or json.loads(body)["failed"] == 0


async def paced(pool: Pool, requests: Sequence[Request], rate: float, name: str) -> Run:
    """Open loop: request i leaves at start + i / rate, whatever the earlier ones are doing."""
    run = Run(name)

    async def one(request: Request) -> None:
        t0 = time.perf_counter()
        try:
            status, body = await asyncio.wait_for(pool.send(request), TIMEOUT_S)
            ok = _check(status, body, batch=False)
        except (HttpError, OSError, TimeoutError):
            ok = False
        run.latencies.append(time.perf_counter() - t0)
        run.failures += not ok

    async with Measure(run, pool.host, pool.port):
        started = time.perf_counter()
        tasks = []
        for i, request in enumerate(requests):
            delay = started + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)  # pacing the load generator, not waiting on a result
            tasks.append(asyncio.create_task(one(request)))
        await asyncio.gather(*tasks)
    return run


async def flat_out(
    host: str,
    port: int,
    request: Request | Sequence[Request],
    n: int,
    *,
    connections: int,
    name: str,
    batch: bool = False,
    warmup: int = 0,
) -> Run:
    """`connections` keep-alive connections, each sending its next request as soon as the
    last is answered, until `n` are answered (after `warmup` unmeasured ones); several
    requests are sent in turn."""
    run = Run(name)
    conns = [await Connection.connect(host, port) for _ in range(connections)]
    todo = n
    many = [request] if isinstance(request, Request) else list(request)
    first = many[0]

    async def worker(conn: Connection) -> None:
        nonlocal todo
        while todo > 0:
            todo -= 1
            t0 = time.perf_counter()
            try:
                if not conn.open:
                    conn = await Connection.connect(host, port)
                status, body = await asyncio.wait_for(
                    conn.send(many[todo % len(many)], want_body=batch), TIMEOUT_S
                )
                ok = _check(status, body, batch=batch)
            except (HttpError, OSError, TimeoutError):
                conn.close()
                ok = False
            run.latencies.append(time.perf_counter() - t0)
            run.failures += not ok
        conn.close()

    # The warm-up requests run before the clock starts, spread over the connections.
    await asyncio.gather(*(_warm(c, first, warmup // connections) for c in conns))
    async with Measure(run, host, port):
        await asyncio.gather(*(worker(c) for c in conns))
    return run


async def _warm(conn: Connection, request: Request, count: int) -> None:
    for _ in range(count):
        await conn.send(request)


async def httpx_flat_out(
    base: str, body: dict[str, Any], n: int, *, connections: int, name: str
) -> Run:
    """The same warm-cache run through httpx: the load generator this bench used before."""
    run = Run(name)
    url = urlsplit(base)
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    todo = n
    async with httpx.AsyncClient(base_url=base, timeout=TIMEOUT_S, limits=limits) as client:

        async def worker() -> None:
            nonlocal todo
            while todo > 0:
                todo -= 1
                t0 = time.perf_counter()
                r = await client.post("/api/predict", json=body)
                run.latencies.append(time.perf_counter() - t0)
                run.failures += r.status_code != 200

        async with Measure(run, url.hostname or "127.0.0.1", url.port or 80):
            await asyncio.gather(*(worker() for _ in range(connections)))
    return run


async def main(base: str) -> None:
    url = urlsplit(base)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    hostport = f"{host}:{port}"
    rng = random.Random(7)  # the same players, stats and lines in every run
    salt = random.Random()  # the odds: new in every run

    def fresh_odds() -> dict[str, int]:
        return {"odds_over": -salt.randint(100, 10_000), "odds_under": salt.randint(100, 10_000)}

    names = players()

    def predict(body: dict[str, Any]) -> Request:
        return Request.make(hostport, "POST", "/api/predict", body)

    pool = Pool(host, port)
    status, body = await pool.send(
        predict({"player": names[0], "stat": "points", "line": 10.5}), want_body=True
    )
    if status != 200:
        sys.exit(f"the gateway at {base} did not answer a prediction: {status} {body[:200]!r}")

    # 1. uncached: odds drawn afresh in every run make every body distinct, in this run and
    # from any earlier run on the same stack, so none is answered from the cache
    bodies = [
        {
            "player": rng.choice(names),
            "stat": rng.choice(STATS),
            "line": float(rng.randint(0, 40)) + 0.5,
            **fresh_odds(),
        }
        for _ in range(2000)
    ]
    uncached = (
        await paced(pool, [predict(b) for b in bodies], 200, "predict, uncached, paced at 200/s")
    ).report()
    # 1b. every body new again (fresh odds), for the same players, stats and lines: the
    # gateway computed these model outputs above and reuses them (an output depends on the
    # vector and the model, not on the line or the odds), so this is the uncached path of a
    # gateway that has served a while: paced at 500/s (goal: p95 <= 5 ms), then as fast as 16
    # connections go (goal: >= 1,500 requests/s per process)
    again = [predict({**b, **fresh_odds()}) for b in bodies]
    (
        await paced(pool, again, 500, "predict, uncached, model outputs known, paced at 500/s")
    ).report()
    pool.close()
    (
        await flat_out(
            host,
            port,
            [predict({**b, **fresh_odds()}) for b in bodies * 3],
            6000,
            connections=16,
            name="predict, uncached, model outputs known, 16 connections",
        )
    ).report()

    # 2. warm cache, and the HTTP stack alone on the same connections
    hot = {"player": names[1], "stat": "points", "line": 20.5}
    hot_request = predict(hot)
    health = (
        await flat_out(
            host,
            port,
            Request.make(hostport, "GET", "/health"),
            10_000,
            connections=16,
            warmup=1000,
            name="baseline: /health, 16 connections",
        )
    ).report()
    cached = (
        await flat_out(
            host,
            port,
            hot_request,
            10_000,
            connections=16,
            warmup=1000,
            name="predict, warm cache, 16 connections",
        )
    ).report()
    old = (
        await httpx_flat_out(
            base, hot, 3000, connections=16, name="baseline: the same through httpx"
        )
    ).report()
    print(
        f"baselines: uncached p95 {uncached.quantile(95) * 1e3:.1f} ms vs cached p95 "
        f"{cached.quantile(95) * 1e3:.1f} ms "
        f"({uncached.quantile(95) / cached.quantile(95):.1f}x); warm cache at "
        f"{cached.rate / health.rate:.0%} of /health's rate; httpx reached "
        f"{old.rate / cached.rate:.0%} of this client's rate"
    )

    # 3. batches of 50: a fresh batch each time (uncached), then one batch repeated (cached)
    def batch(k: int) -> dict[str, Any]:
        return {
            "items": [
                {
                    "player": rng.choice(names),
                    "stat": rng.choice(STATS),
                    "line": float(k % 40) + 0.5,
                    **fresh_odds(),
                }
                for _ in range(50)
            ]
        }

    conn = await Connection.connect(host, port)
    fresh = Run("batch of 50, uncached, one at a time")
    async with Measure(fresh, host, port):
        for k in range(100):
            request = Request.make(hostport, "POST", "/api/batch_predict", batch(k))
            t0 = time.perf_counter()
            status, body = await conn.send(request, want_body=True)
            fresh.latencies.append(time.perf_counter() - t0)
            fresh.failures += not _check(status, body, batch=True)
    fresh.report()
    repeated = Request.make(hostport, "POST", "/api/batch_predict", batch(1000))
    await conn.send(repeated)  # fills the cache
    conn.close()
    (
        await flat_out(
            host,
            port,
            repeated,
            200,
            connections=4,
            batch=True,
            name="batch of 50, cached, 4 connections",
        )
    ).report()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000"))
