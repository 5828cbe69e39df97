"""Ingest throughput, end to end: the bundled seasons' files -> validation -> PostgreSQL ->
events acknowledged by the broker. Prints rows per second, the idempotent re-run, and a naive
one-row-at-a-time path measured in the same run as the baseline.

    uv run python bench/ingest.py [--seasons 2017-18..2023-24]
"""

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import asyncpg  # noqa: E402
from _infra import fresh_database, servers  # noqa: E402
from report import Result, emit  # noqa: E402

from statmuse_ingestor.app import connected  # noqa: E402
from statmuse_ingestor.backfill import backfill  # noqa: E402
from statmuse_ingestor.service import normalise_player_row  # noqa: E402
from statmuse_ingestor.settings import IngestorSettings  # noqa: E402
from statmuse_ingestor.sources import FileSource  # noqa: E402
from statmuse_shared.contract import topics  # noqa: E402
from statmuse_shared.contract.messages import PlayerGameIngested  # noqa: E402
from statmuse_shared.contract.seasons import parse_seasons  # noqa: E402
from statmuse_shared.platform.broker import ensure_topics, make_broker  # noqa: E402
from statmuse_shared.platform.db import create_pool  # noqa: E402
from statmuse_shared.platform.migrations import migrate  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data" / "nba"
NAIVE_ROWS = 3000


async def naive_insert(pool: asyncpg.Pool, g: PlayerGameIngested) -> None:
    """One row, one INSERT (the naive path's store step)."""
    await pool.execute(
        """INSERT INTO ingest.player_game_stats (game_key, player_id, game_id, season,
               season_type, game_date, team, opponent, is_home, minutes, points,
               rebounds, assists, fg3m, source, checksum, event_id, payload)
           VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18)
           ON CONFLICT DO NOTHING""",
        g.game_key,
        g.player_id,
        g.game_id,
        g.season,
        g.season_type,
        g.game_date,
        g.team,
        g.opponent,
        g.is_home,
        g.minutes,
        g.points,
        g.rebounds,
        g.assists,
        g.fg3m,
        g.source,
        g.event_id,
        g.event_id,
        g.model_dump_json(),
    )


async def naive_rows_per_second(dsn: str, bootstrap: str) -> float:
    """The obvious path: one INSERT and one acknowledged send per row."""
    source = FileSource(DATA)
    rows = [r for _, r in zip(range(NAIVE_ROWS), source.player_rows("2023-24"), strict=False)]
    pool = await create_pool(dsn)
    broker = make_broker(bootstrap, client_id="bench-naive")
    await broker.connect()
    started = time.perf_counter()
    try:
        for raw in rows:
            g = normalise_player_row(raw.record, source="naive").game
            await naive_insert(pool, g)
            await broker.publish(
                g.model_dump_json().encode(), "bench.naive", key=topics.player_key(g.player_id)
            )
    finally:
        await broker.stop()
        await pool.close()
    return len(rows) / (time.perf_counter() - started)


async def main(seasons: list[str]) -> None:
    with servers() as (admin, bootstrap):
        await ensure_topics(bootstrap, [*topics.all_with_dead_letters(), "bench.naive"])
        dsn = await fresh_database(admin, "bench_ingest")
        await migrate(dsn, schemas=["ingest"])
        settings = IngestorSettings(database_url=dsn, kafka_bootstrap_servers=bootstrap)
        async with connected(settings) as rt:  # as `statmuse-ingestor backfill` runs it
            first = await backfill(rt, source=FileSource(DATA), seasons=seasons)
            second = await backfill(rt, source=FileSource(DATA), seasons=seasons)
        naive_dsn = await fresh_database(admin, "bench_ingest_naive")
        await migrate(naive_dsn, schemas=["ingest"])
        naive = await naive_rows_per_second(naive_dsn, bootstrap)

    rate = first.read / first.seconds
    print(f"seasons: {seasons[0]}..{seasons[-1]}")
    print(
        f"first run: {first.read} player rows read, {first.stored} stored, "
        f"{first.team_stored} team rows, {first.rejected} rejected, {first.flagged} flagged, "
        f"{first.published} events published in {first.seconds:.1f} s"
    )
    for reason, count in sorted(first.reject_reasons.items(), key=lambda kv: -kv[1]):
        print(f"  rejected {count:>5}: {reason}")
    print(f"ingest end to end: {rate:,.0f} player rows/s (goal >= 5,000)")
    print(
        f"second run: {second.stored} rows changed, {second.published} events published "
        f"in {second.seconds:.1f} s"
    )
    print(
        f"baseline (naive one row per INSERT + acknowledged send, {NAIVE_ROWS} rows): "
        f"{naive:,.0f} rows/s; batched path is {rate / naive:.1f}x faster"
    )
    print(
        f"baseline for the re-run: the first run's {first.seconds:.1f} s; the re-run took "
        f"{second.seconds / first.seconds:.0%} of it"
    )
    span = f"{seasons[0]}..{seasons[-1]}" if len(seasons) > 1 else seasons[0]
    emit(
        Result(
            id="ingest.rows_per_s",
            what="ingest, end to end (files → validation → PostgreSQL → events acknowledged), "
            f"{span}",
            value=rate,
            unit="player rows/s",
            op=">=",
            target=5000,
            measured=f"{rate:,.0f} player rows/s ({first.read:,} player + {first.team_stored:,} "
            f"team rows, {first.published:,} events, {first.seconds:.1f} s)",
            baseline=f"one INSERT + one acknowledged send per row ({NAIVE_ROWS:,} rows): "
            f"{naive:,.0f} rows/s",
            ratio=rate / naive,
            ratio_of="faster",
            command="`uv run python bench/ingest.py`",
        )
    )
    emit(
        Result(
            id="ingest.rerun",
            what=f"ingest re-run of the same seasons, {span} (idempotence)",
            value=second.stored + second.published,
            unit="rows changed + events",
            op="==",
            target=0,
            goal="no row changed, no event",
            measured=f"{second.stored} rows changed, {second.published} events, "
            f"{second.seconds:.1f} s",
            baseline=f"the first run: {first.seconds:.1f} s",
            ratio=first.seconds / second.seconds,
            ratio_of="faster",
            command="same",
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seasons", default="2017-18..2023-24")
    args = parser.parse_args()
    asyncio.run(main(parse_seasons(args.seasons)))
