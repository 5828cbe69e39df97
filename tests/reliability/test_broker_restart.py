"""Restart the broker in the middle of an ingest: the ingest resumes and no stored row is lost.

The local broker (tansu, memory storage) forgets its topics and messages when it stops, so
"restart" here means: `statmuse-ingestor backfill` is publishing its outbox when the broker is
killed (SIGKILL); it stays down for OUTAGE_S; a fresh broker starts on the same port and the
topics are created again. What is checked is the ingestor's part of the contract: PostgreSQL
(the source of truth) holds every row; every row the crash left unpublished is re-published by
the next run, in date order per key; in the end every row is marked published. What is not:
that messages the old broker had acknowledged survive it (memory storage cannot; on Kafka that
is replication's job)."""

import asyncio
import csv
import gzip
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from statmuse_ops.infra import start_broker
from statmuse_shared.contract import topics
from statmuse_shared.platform.migrations import migrate

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

UNTIL = "2023-12-31"  # two months of 2023-24: three outbox chunks of 5,000 events
OUTAGE_S = 1.0  # how long the broker stays down (the fault, not a wait)

UNPUBLISHED = """
    SELECT payload->>'event_id' FROM ingest.player_game_stats WHERE published_at IS NULL
    UNION ALL
    SELECT payload->>'event_id' FROM ingest.team_game_stats WHERE published_at IS NULL"""
PUBLISHED = """
    SELECT (SELECT count(*) FROM ingest.player_game_stats WHERE published_at IS NOT NULL)
         + (SELECT count(*) FROM ingest.team_game_stats WHERE published_at IS NOT NULL)"""
STORED = """SELECT (SELECT count(*) FROM ingest.player_game_stats)
                 + (SELECT count(*) FROM ingest.team_game_stats)"""


def part_of_season(source: Path, into: Path, season: str) -> int:
    """The bundled season's rows up to UNTIL, laid out as the files source expects; rows."""
    rows = 0
    for folder in ("player_game_logs", "team_game_logs"):
        with gzip.open(source / folder / f"{season}.csv.gz", "rt", newline="") as f:
            reader = csv.DictReader(f)
            kept = [r for r in reader if r["GAME_DATE"] <= UNTIL]
            fields = reader.fieldnames
        (into / folder).mkdir(parents=True)
        with gzip.open(into / folder / f"{season}.csv.gz", "wt", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=fields or [])
            writer.writeheader()
            writer.writerows(kept)
        rows += len(kept)
    return rows


def backfill(data: Path, env: dict[str, str], log: Path, season: str) -> subprocess.Popen[bytes]:
    exe = Path(sys.executable).with_name("statmuse-ingestor")
    with open(log, "ab") as out:
        return subprocess.Popen(
            [str(exe), "backfill", "--seasons", season, "--data-dir", str(data)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


async def exited(proc: subprocess.Popen[bytes], kit, *, deadline_s: float) -> int:
    code = await kit.eventually(
        "the ingest run to end", lambda: proc.poll() is not None, deadline_s=deadline_s
    )
    assert code
    return proc.returncode


@pytest.mark.parametrize("run", ["survives", "dies"])
async def test_broker_restart_mid_ingest_loses_no_stored_row(
    run, database_url, own_broker, tmp_path, kit
):
    """`survives`: the run waits out the outage and finishes on the new broker. `dies`: the run
    is killed while the broker is down; the next run publishes what it left."""
    await kit.create_topics(own_broker.url)
    await migrate(database_url, schemas=["ingest"])
    data = tmp_path / "data"
    source_rows = part_of_season(kit.data, data, kit.season)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": own_broker.url,
        "LOG_JSON": "true",
    }
    conn = await asyncpg.connect(database_url)
    broker = own_broker
    runs: list[subprocess.Popen[bytes]] = []
    try:
        runs.append(backfill(data, env, tmp_path / "ingest-1.log", kit.season))

        # Kill the broker as soon as the first chunk of the outbox is marked published.
        async def publishing() -> bool:
            assert runs[0].poll() is None, (tmp_path / "ingest-1.log").read_text()[-3000:]
            return await conn.fetchval(PUBLISHED) > 0

        await kit.eventually("the outbox publishing", publishing, deadline_s=60, interval_s=0.005)
        os.kill(broker.pid, signal.SIGKILL)
        await asyncio.sleep(OUTAGE_S)
        # Paused across the restart, so that the new broker has its topics (6 partitions)
        # before the ingestor reconnects, as on Kafka, where topics outlive a restart and
        # auto-creation is off; tansu would auto-create the topic with 4 partitions.
        runs[0].send_signal(signal.SIGKILL if run == "dies" else signal.SIGSTOP)
        stored = await conn.fetchval(STORED)
        lost_with_broker = await conn.fetchval(PUBLISHED)
        unpublished = {r[0] for r in await conn.fetch(UNPUBLISHED)}
        assert stored == source_rows, "every row is stored before any is published"
        assert unpublished, "the broker died with rows still to publish"
        assert lost_with_broker > 0  # on the old broker only: memory storage (see above)

        broker = start_broker(tmp_path / "broker-2", port=own_broker.port)
        await kit.create_topics(broker.url)
        if run == "survives":
            runs[0].send_signal(signal.SIGCONT)
            assert await exited(runs[0], kit, deadline_s=60) == 0, (
                tmp_path / "ingest-1.log"
            ).read_text()[-3000:]
        else:
            runs[0].wait(10)
            # The ingest resumes: the next run publishes whatever is still unpublished.
            runs.append(backfill(data, env, tmp_path / "ingest-2.log", kit.season))
            assert await exited(runs[1], kit, deadline_s=60) == 0, (
                tmp_path / "ingest-2.log"
            ).read_text()[-3000:]
        assert await conn.fetchval(STORED) == source_rows, "a row stored twice"
        assert await conn.fetch(UNPUBLISHED) == [], "every stored row ends up published"

        # Every row the crash left unpublished is on the new broker, in date order per key
        # and partition: a player's on one partition, a team's on every partition.
        def arrived(records: list) -> bool:
            return unpublished <= {json.loads(r.value)["event_id"] for r in records}

        records = await kit.read_topic(broker.url, topics.GAMES_RAW, until=arrived, deadline_s=30)
        every = set(range(topics.DEFAULT_PARTITIONS))
        assert {r.partition for r in records} == every
        by_key: dict[bytes, list[tuple[int, int, str]]] = {}
        for r in records:
            by_key.setdefault(r.key, []).append(
                (r.partition, r.offset, json.loads(r.value)["game_date"])
            )
        for key, seen in by_key.items():
            partitions = {p for p, _, _ in seen}
            if key.startswith(b"team:"):
                assert partitions == every, f"{key!r} not on every partition"
            else:
                assert len(partitions) == 1, f"{key!r} on two partitions"
            for partition in partitions:
                dates = [d for p, _, d in sorted(seen) if p == partition]
                assert dates == sorted(dates), f"{key!r} out of date order on {partition}"
    finally:
        for proc in runs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.kill()
                proc.wait(10)
        await conn.close()
        if broker is not own_broker:
            from statmuse_ops.infra import stop

            stop(broker, timeout_s=10)
