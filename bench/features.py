"""Feature engine speed on the seven bundled seasons, against real PostgreSQL.

1. the full batch build: every vector (188k game vectors + one 'next' per player) from the
   features service's tables, stored;
2. the incremental cost per message: the last games of 2023-24 fed one at a time through the
   streaming path, as the consumer would;
baseline, measured in the same run: recomputing each vector from scratch on the player's
history prefix (what a stateless implementation does).

    uv run python bench/features.py
"""

import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _infra import box_scores, fresh_database, servers  # noqa: E402
from report import Result, emit  # noqa: E402

from statmuse_features.adapters.postgres import PostgresFeatures  # noqa: E402
from statmuse_features.engine import Engine  # noqa: E402
from statmuse_shared.contract.seasons import parse_seasons  # noqa: E402
from statmuse_shared.features import walk  # noqa: E402
from statmuse_shared.platform.db import Database, create_pool  # noqa: E402
from statmuse_shared.platform.migrations import migrate  # noqa: E402

STREAMED = 400  # the last player games of 2023-24, fed one message at a time
BASELINE_PLAYERS = 25


def events(seasons: list[str]) -> tuple[list, list]:
    players, teams = box_scores(seasons)
    players.sort(key=lambda g: (g.game_date, g.game_key, g.player_id))
    teams.sort(key=lambda g: (g.game_date, g.game_key))
    return players, teams


async def main(seasons: list[str]) -> None:
    players, teams = events(seasons)
    held_back, players = players[-STREAMED:], players[:-STREAMED]
    cutoff = held_back[0].game_date
    late_teams = [t for t in teams if t.game_date >= cutoff]
    teams = [t for t in teams if t.game_date < cutoff]
    with servers() as (admin, _bootstrap):
        dsn = await fresh_database(admin, "bench_features")
        await migrate(dsn, schemas=["features"])
        pool = await create_pool(dsn, session_state=False)  # as the service opens it
        try:
            features = PostgresFeatures(Database.of(pool))
            async with features.session() as store:
                for start in range(0, len(players), 20000):
                    await store.store_games(players=players[start : start + 20000], teams=[])
                await store.store_games(players=[], teams=teams)

            engine = Engine(features)
            started = time.perf_counter()
            await engine.load()
            built = await engine.build()
            build_s = time.perf_counter() - started

            per_message = []
            by_day: dict = {}
            for g in late_teams:
                by_day.setdefault(g.game_date, []).append(g)
            day = None
            for game in held_back:
                if game.game_date != day:
                    if day is not None:
                        await engine.process([], by_day.get(day, []))
                    day = game.game_date
                t0 = time.perf_counter()
                await engine.process([game], [])
                per_message.append(time.perf_counter() - t0)

            async with features.session() as store:
                ids = (await store.all_players())[:BASELINE_PLAYERS]
                found = await store.histories(ids)
        finally:
            await pool.close()

    histories = [h for _, h in found.values()]
    n = sum(len(h) for h in histories)
    t0 = time.perf_counter()
    for h in histories:
        walk(h, league=engine.league)
    incremental_per_vector = (time.perf_counter() - t0) / n
    t0 = time.perf_counter()
    for h in histories:
        for i in range(len(h)):
            walk(h[: i + 1], league=engine.league)
    scratch_per_vector = (time.perf_counter() - t0) / n

    p50 = statistics.median(per_message) * 1000
    p95 = statistics.quantiles(per_message, n=20)[18] * 1000
    print(
        f"seasons: {seasons[0]}..{seasons[-1]}: {len(players)} player games, "
        f"{len(teams)} team games stored before the build"
    )
    print(
        f"batch build: {built} vectors computed and stored in {build_s:.1f} s "
        f"({built / build_s:,.0f} vectors/s; goal: the whole build <= 60 s)"
    )
    print(
        f"incremental, one message at a time ({len(per_message)} messages): "
        f"p50 {p50:.2f} ms, p95 {p95:.2f} ms (goal p95 <= 2 ms)"
    )
    print(
        f"baseline (each vector from scratch on its history prefix, {BASELINE_PLAYERS} "
        f"players, {n} vectors): {scratch_per_vector * 1e3:.2f} ms/vector vs incremental "
        f"{incremental_per_vector * 1e3:.3f} ms/vector: "
        f"{scratch_per_vector / incremental_per_vector:.0f}x"
    )
    span = f"{seasons[0]}..{seasons[-1]}" if len(seasons) > 1 else seasons[0]
    scratch = (
        f"each vector from scratch on its history prefix ({BASELINE_PLAYERS} players, "
        f"{n:,} vectors): {scratch_per_vector * 1e3:.1f} ms/vector"
    )
    emit(
        Result(
            id="features.build",
            what="features: full batch build (every game vector + a 'next' vector per player, "
            f"computed in worker processes and stored), {span}",
            value=build_s,
            unit="s",
            op="<=",
            target=60,
            measured=f"{build_s:.1f} s for {built:,} vectors ({built / build_s:,.0f} vectors/s)",
            baseline=f"{scratch} vs {incremental_per_vector * 1e3:.2f} ms incremental",
            ratio=scratch_per_vector / incremental_per_vector,
            ratio_of="faster per vector",
            command="`uv run python bench/features.py`",
        )
    )
    emit(
        Result(
            id="features.incremental",
            what=f"features: incremental cost per message (one raw event at a time through the "
            f"streaming path, last {len(per_message)} player games of {seasons[-1]})",
            value=p95,
            unit="ms",
            op="<=",
            target=2,
            goal="p95 ≤ 2 ms",
            measured=f"p50 {p50:.2f} ms, p95 {p95:.2f} ms",
            baseline=scratch,
            ratio=scratch_per_vector * 1e3 / p50,
            ratio_of="faster (p50 per message, store included)",
            command="same",
        )
    )


if __name__ == "__main__":
    spec = sys.argv[1] if len(sys.argv) > 1 else "2017-18..2023-24"
    asyncio.run(main(parse_seasons(spec)))
