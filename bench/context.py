"""Player context latency: cold (computed from the gateway's read model) and from the Redis
cache, on the seven bundled seasons, against real PostgreSQL and Redis.

    uv run python bench/context.py
"""

import asyncio
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _infra import box_scores, fresh_database, redis_server, servers  # noqa: E402
from redis.asyncio import Redis  # noqa: E402
from report import Result, emit  # noqa: E402

from statmuse_gateway.adapters import postgres as db  # noqa: E402
from statmuse_gateway.app import build_runtime  # noqa: E402
from statmuse_gateway.contexts import context_of  # noqa: E402
from statmuse_gateway.settings import GatewaySettings  # noqa: E402
from statmuse_shared.contract.names import normalize_name  # noqa: E402
from statmuse_shared.contract.seasons import parse_seasons  # noqa: E402
from statmuse_shared.platform.db import Database, create_pool  # noqa: E402
from statmuse_shared.platform.migrations import migrate  # noqa: E402

PLAYERS = 200


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18] * 1000


async def main(seasons: list[str]) -> None:
    players, teams = box_scores(seasons)
    with servers() as (admin, _), redis_server() as redis_url:
        dsn = await fresh_database(admin, "bench_context")
        await migrate(dsn, schemas=["gateway"])
        pool = await create_pool(dsn)
        redis = Redis.from_url(redis_url)
        rt = build_runtime(GatewaySettings(database_url=dsn), db=Database.of(pool), redis=redis)
        league = rt.league
        try:
            async with pool.acquire() as conn:
                for start in range(0, len(players), 20000):
                    await db.upsert_player_games(conn=conn, games=players[start : start + 20000])
                for game in await db.upsert_team_games(conn=conn, games=teams):
                    league.add(game)
                names = {g.player_id: g.player_name for g in players}
                await conn.executemany(
                    "INSERT INTO gateway.players VALUES ($1, $2, $3, 'X', '2024-01-01') "
                    "ON CONFLICT DO NOTHING",
                    [(pid, name, normalize_name(name)) for pid, name in names.items()],
                )
                normalized = {
                    r[0]: r[1]
                    for r in await conn.fetch(
                        "SELECT player_id, normalized_name FROM gateway.players"
                    )
                }
            rng = random.Random(7)
            chosen = rng.sample(sorted(names), PLAYERS)
            cold, warm = [], []
            for pid in chosen:
                answer = await context_of(
                    rt, name=normalized[pid], game_date=None, opponent="BOS", is_home=True
                )
                assert isinstance(answer, dict), f"player {pid} not found"
            await redis.flushdb()
            for pid in chosen:
                t0 = time.perf_counter()
                await context_of(
                    rt, name=normalized[pid], game_date=None, opponent="BOS", is_home=True
                )
                cold.append(time.perf_counter() - t0)
            for pid in chosen:
                t0 = time.perf_counter()
                await context_of(
                    rt, name=normalized[pid], game_date=None, opponent="BOS", is_home=True
                )
                warm.append(time.perf_counter() - t0)
        finally:
            await redis.aclose()
            await pool.close()
    cold50, warm50 = statistics.median(cold) * 1000, statistics.median(warm) * 1000
    cold95, warm95 = p95(cold), p95(warm)
    print(f"player context over {seasons[0]}..{seasons[-1]}, {PLAYERS} random players")
    print(
        f"cold (read model + shared feature code): p50 {cold50:.1f} ms, "
        f"p95 {cold95:.1f} ms (goal <= 50 ms)"
    )
    print(f"from the Redis cache: p50 {warm50:.2f} ms, p95 {warm95:.2f} ms (goal p95 <= 2 ms)")
    print(
        f"baseline (cold, a cache miss: read model + shared feature code): p50 {cold50:.1f} ms; "
        f"the cache is {cold50 / warm50:.0f}x faster at the median"
    )
    span = f"{seasons[0]}..{seasons[-1]}" if len(seasons) > 1 else seasons[0]
    emit(
        Result(
            id="context.cached",
            what=f"player context from the Redis cache ({PLAYERS} random players, {span} loaded)",
            value=warm95,
            unit="ms",
            op="<=",
            target=2,
            goal="p95 ≤ 2 ms",
            measured=f"p50 {warm50:.2f} ms, p95 {warm95:.2f} ms",
            baseline=f"cache miss: p50 {cold50:.1f} ms",
            ratio=cold50 / warm50,
            ratio_of="faster at the median",
            command="`uv run python bench/context.py`",
        )
    )
    emit(
        Result(
            id="context.cold",
            what="player context cold (cache miss: read model + shared feature code)",
            value=cold95,
            unit="ms",
            op="<=",
            target=50,
            goal="≤ 50 ms",
            measured=f"p50 {cold50:.1f} ms, p95 {cold95:.1f} ms",
            command="same",
        )
    )


if __name__ == "__main__":
    spec = sys.argv[1] if len(sys.argv) > 1 else "2017-18..2023-24"
    asyncio.run(main(parse_seasons(spec)))
