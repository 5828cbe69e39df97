"""Gateway latency and throughput on loopback, against a running stack (`statmuse demo`).

Bounded runs, each printing p50/p95/p99 latency and the achieved rate:
1. `/api/predict`, uncached (every request a new player/line), paced at 200 requests/s
   (goal: p95 <= 10 ms);
2. `/api/predict`, warm cache (one request repeated), as fast as 16 connections go
   (goal: >= 1,000 requests/s per gateway process);
3. `/api/batch_predict` with 50 items, uncached and cached (goal: p95 <= 100 ms);
baseline, measured in the same run: the uncached single predict against the cached one.

The gateway's rate limit (100/min per client by default) would stop a load run: start the
stack with `GATEWAY_RATE_LIMIT_PER_MINUTE=1000000` for benchmarking.

    GATEWAY_RATE_LIMIT_PER_MINUTE=1000000 statmuse demo
    uv run python bench/gateway.py [http://127.0.0.1:8000]
"""

import asyncio
import csv
import gzip
import random
import statistics
import sys
import time
from pathlib import Path

import httpx

DATA = Path(__file__).resolve().parents[1] / "data" / "nba" / "player_game_logs" / "2023-24.csv.gz"
STATS = ("points", "rebounds", "assists", "threes", "pra")


def players(limit: int = 300) -> list[str]:
    counts: dict[str, int] = {}
    with gzip.open(DATA, "rt", newline="") as f:
        for r in csv.DictReader(f):
            counts[r["PLAYER_NAME"]] = counts.get(r["PLAYER_NAME"], 0) + 1
    return sorted(n for n, c in counts.items() if c >= 40)[:limit]


def summary(name: str, latencies: list[float], seconds: float, failures: int) -> float:
    q = statistics.quantiles(latencies, n=100)
    rate = len(latencies) / seconds
    print(f"{name}: n={len(latencies)} p50 {q[49] * 1e3:.1f} ms, p95 {q[94] * 1e3:.1f} ms, "
          f"p99 {q[98] * 1e3:.1f} ms, {rate:,.0f} requests/s, {failures} failed")  # fmt: skip
    return q[94]


async def paced(client: httpx.AsyncClient, bodies: list[dict], rate: float) -> tuple:
    latencies: list[float] = []
    failures = 0

    async def one(body: dict) -> None:
        nonlocal failures
        t0 = time.perf_counter()
        r = await client.post("/api/predict", json=body)
        latencies.append(time.perf_counter() - t0)
        if r.status_code == 429:
            sys.exit("rate limited: start the stack with GATEWAY_RATE_LIMIT_PER_MINUTE=1000000")
        failures += r.status_code != 200

    started = time.perf_counter()
    tasks = []
    for i, body in enumerate(bodies):
        delay = started + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)  # pacing the load generator, not waiting on a result
        tasks.append(asyncio.create_task(one(body)))
    await asyncio.gather(*tasks)
    return latencies, time.perf_counter() - started, failures


async def flat_out(client: httpx.AsyncClient, path: str, body: dict, n: int, workers: int) -> tuple:
    latencies: list[float] = []
    failures = 0
    queue = list(range(n))

    async def worker() -> None:
        nonlocal failures
        while queue:
            queue.pop()
            t0 = time.perf_counter()
            r = await client.post(path, json=body)
            latencies.append(time.perf_counter() - t0)
            failures += r.status_code != 200

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return latencies, time.perf_counter() - started, failures


async def main(base: str) -> None:
    rng = random.Random(7)
    names = players()
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        probe = await client.post("/api/predict", json={"player": names[0], "stat": "points",
                                                        "line": 10.5})  # fmt: skip
        if probe.status_code != 200:
            sys.exit(f"the gateway at {base} did not answer a prediction: {probe.status_code}")
        # 1. uncached: every body unique (player, stat, line)
        # the odds make every body distinct, so none is answered from the cache
        bodies = [{"player": rng.choice(names), "stat": rng.choice(STATS),
                   "line": float(rng.randint(0, 40)) + 0.5, "odds_over": -110 - i}
                  for i in range(2000)]  # fmt: skip
        lat, secs, bad = await paced(client, bodies, rate=200)
        uncached = summary("predict, uncached, paced at 200/s", lat, secs, bad)
        # 2. warm cache
        hot = {"player": names[1], "stat": "points", "line": 20.5}
        await client.post("/api/predict", json=hot)
        lat, secs, bad = await flat_out(client, "/api/predict", hot, 5000, workers=16)
        cached = summary("predict, warm cache, 16 connections", lat, secs, bad)
        print(f"baseline: uncached p95 {uncached * 1e3:.1f} ms vs cached p95 "
              f"{cached * 1e3:.1f} ms ({uncached / cached:.1f}x)")  # fmt: skip
        # 3. batches of 50
        items = [{"player": rng.choice(names), "stat": rng.choice(STATS),
                  "line": float(rng.randint(0, 30)) + 0.5} for _ in range(50)]  # fmt: skip
        batch = {"items": items}
        await client.post("/api/batch_predict", json=batch)  # fills the cache
        lat, secs, bad = await flat_out(client, "/api/batch_predict", batch, 200, workers=4)
        summary("batch of 50, cached after the first", lat, secs, bad)
        fresh = []
        for k in range(100):
            items = [{"player": rng.choice(names), "stat": rng.choice(STATS),
                      "line": float(k) + 0.5} for _ in range(50)]  # fmt: skip
            t0 = time.perf_counter()
            r = await client.post("/api/batch_predict", json={"items": items})
            fresh.append(time.perf_counter() - t0)
            if r.status_code != 200:
                sys.exit(f"batch failed: {r.status_code} {r.text[:200]}")
        summary("batch of 50, uncached, one at a time", fresh, sum(fresh), 0)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000"))
