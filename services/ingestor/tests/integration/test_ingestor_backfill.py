"""Backfill and the schedule against real PostgreSQL and the broker: stored once, published
once, bad rows rejected with their reason while the good rows of the same batch are kept; a
game that changes is published again."""

import csv
import gzip
import io
import itertools
import threading
import time
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer

from statmuse_ingestor.app import connected
from statmuse_ingestor.backfill import backfill
from statmuse_ingestor.schedule import ingest_schedule
from statmuse_ingestor.settings import IngestorSettings
from statmuse_ingestor.sources import FileSource
from statmuse_shared.contract import topics
from statmuse_shared.contract.messages import (
    DeadLetter,
    GameScheduled,
    PlayerGameIngested,
    TeamGameIngested,
)
from statmuse_shared.platform.broker import ensure_topics
from statmuse_shared.platform.migrations import migrate

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[4] / "data" / "nba"
GOOD_ROWS = 400


def write_season(
    folder: Path, rows: list[dict[str, str]], header: list[str], kind: str = "player_game_logs"
) -> None:
    (folder / kind).mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header)
    writer.writeheader()
    writer.writerows(rows)
    with gzip.open(folder / kind / "2023-24.csv.gz", "wt") as f:
        f.write(buf.getvalue())


def real_rows(n: int, kind: str = "player_game_logs") -> tuple[list[dict[str, str]], list[str]]:
    with gzip.open(DATA / kind / "2023-24.csv.gz", "rt", newline="") as f:
        reader = csv.DictReader(f)
        return list(itertools.islice(reader, n)), list(reader.fieldnames or [])


async def read_topic(bootstrap: str, topic: str, expected: int) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    values: list[bytes] = []
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            for records in batch.values():
                values.extend(r.value for r in records)
            if len(values) >= expected and not batch:
                break
    finally:
        await consumer.stop()
    return values


@pytest.fixture
async def env(database_url, kafka_bootstrap):
    """The service's runtime as a one-shot command has it (database open, broker connected),
    and its pool for the checks."""
    await migrate(database_url, schemas=["ingest"])
    await ensure_topics(kafka_bootstrap, topics.all_with_dead_letters())
    settings = IngestorSettings(database_url=database_url, kafka_bootstrap_servers=kafka_bootstrap)
    async with connected(settings) as rt:
        yield rt, rt.db.pool, kafka_bootstrap


async def test_backfill_twice_changes_nothing_and_publishes_nothing_new(env, tmp_path):
    rt, pool, bootstrap = env
    rows, header = real_rows(GOOD_ROWS)
    write_season(tmp_path, rows, header)
    team_rows, team_header = real_rows(60, "team_game_logs")
    write_season(tmp_path, team_rows, team_header, "team_game_logs")
    source = FileSource(tmp_path)

    first = await backfill(rt, source=source, seasons=["2023-24"])
    assert (first.read, first.stored, first.team_stored, first.rejected, first.published) == (
        GOOD_ROWS,
        GOOD_ROWS,
        60,
        0,
        GOOD_ROWS + 60,
    )
    # Each team box went to every partition of the raw topic.
    partitions = await rt.games_partitions()
    assert partitions == topics.DEFAULT_PARTITIONS
    assert first.messages == GOOD_ROWS + 60 * partitions
    assert await pool.fetchval("SELECT count(*) FROM ingest.raw_records") == GOOD_ROWS + 60
    games = await pool.fetchval("SELECT count(*) FROM ingest.games")
    assert games >= 30
    snapshot = await pool.fetch(
        "SELECT game_key, player_id, checksum, updated_at, published_at "
        "FROM ingest.player_game_stats ORDER BY 1, 2"
    )

    second = await backfill(rt, source=source, seasons=["2023-24"])
    assert (second.stored, second.unchanged, second.team_stored, second.published) == (
        0,
        GOOD_ROWS,
        0,
        0,
    )
    assert await pool.fetchval("SELECT count(*) FROM ingest.raw_records") == GOOD_ROWS + 60
    assert await pool.fetchval("SELECT count(*) FROM ingest.games") == games
    assert (
        await pool.fetch(
            "SELECT game_key, player_id, checksum, updated_at, published_at "
            "FROM ingest.player_game_stats ORDER BY 1, 2"
        )
        == snapshot
    )

    messages = await read_topic(bootstrap, topics.GAMES_RAW, first.messages)
    assert len(messages) == first.messages
    teams = [TeamGameIngested.model_validate_json(v) for v in messages if b'"team_game"' in v]
    assert len(teams) == 60 * partitions
    assert len({t.event_id for t in teams}) == 60
    assert {t.game_key for t in teams} <= {
        r["game_key"] for r in await pool.fetch("SELECT game_key FROM ingest.games")
    }
    events = [PlayerGameIngested.model_validate_json(v) for v in messages if b'"player_game"' in v]
    ids = [e.event_id for e in events]
    assert len(ids) == GOOD_ROWS
    assert len(set(ids)) == GOOD_ROWS
    # Published in game-date order for every player (the key).
    by_player: dict[int, list] = {}
    for e in events:
        by_player.setdefault(e.player_id, []).append(e.game_date)
    assert all(dates == sorted(dates) for dates in by_player.values())


async def test_bad_rows_are_rejected_with_reasons_and_good_rows_kept(env, tmp_path):
    rt, pool, bootstrap = env
    rows, header = real_rows(50)
    bad = [dict(rows[0]) for _ in range(4)]
    bad[0]["PLAYER_ID"] = ""  # missing critical field
    bad[1]["PTS"] = "-3"  # negative stat
    bad[2]["MIN"] = "71"  # minutes out of range
    bad[3]["PTS"] = str(int(bad[3]["PTS"]) + 1)  # PTS != 2*FGM + FG3M + FTM
    write_season(tmp_path, rows[:25] + bad + rows[25:], header)

    summary = await backfill(rt, source=FileSource(tmp_path), seasons=["2023-24"])
    assert (summary.read, summary.stored, summary.rejected) == (54, 50, 4)
    assert await pool.fetchval("SELECT count(*) FROM ingest.player_game_stats") == 50

    reasons = [
        r["reason"] for r in await pool.fetch("SELECT reason FROM ingest.rejects ORDER BY location")
    ]
    assert len(reasons) == 4
    for expected in (
        "player: missing critical fields: PLAYER_ID",
        "player: negative stats: PTS",
        "player: MIN out of range",
        "player: PTS ",
    ):
        assert any(r.startswith(expected) for r in reasons), (expected, reasons)

    letters = [
        DeadLetter.model_validate_json(v)
        for v in await read_topic(bootstrap, topics.dead_letter(topics.GAMES_RAW), 4)
    ]
    assert len(letters) == 4
    assert all(":" in letter.error and letter.payload_b64 for letter in letters)

    run = await pool.fetchrow("SELECT * FROM ingest.ingest_runs")
    assert (run["status"], run["rows_read"], run["rows_rejected"]) == ("succeeded", 54, 4)

    # Data quality, measured after the run: one row of 54 lacked a critical field.
    from statmuse_ingestor import metrics

    measured = await pool.fetchrow(
        "SELECT * FROM ingest.data_quality ORDER BY measured_at DESC LIMIT 1"
    )
    assert (measured["runs"], measured["runs_failed"], measured["rows_read"]) == (1, 0, 54)
    assert (measured["rows_missing"], measured["rows_rejected"]) == (1, 4)
    assert measured["missing_ratio"] == pytest.approx(1 / 54)
    assert measured["source_failure_ratio"] == 0
    assert metrics.MISSING_RATIO._value.get() == pytest.approx(1 / 54)


async def test_a_day_ingests_only_that_day_and_the_lock_runs_a_job_once(env, tmp_path):
    import asyncio
    import datetime as dt

    from statmuse_ingestor.jobs import run_daily
    from statmuse_shared.platform.scheduler import Outcome

    rt, pool, _ = env
    rows, header = real_rows(1500)
    write_season(tmp_path, rows, header)
    team_rows, team_header = real_rows(200, "team_game_logs")
    write_season(tmp_path, team_rows, team_header, "team_game_logs")
    day = dt.date(2023, 10, 25)
    expected = sum(1 for r in rows if r["GAME_DATE"] == day.isoformat())
    assert expected > 50

    ran: list[str] = []
    started, release = threading.Event(), threading.Event()

    class Gated(FileSource):
        """The files, read by a replica that is held mid-ingest until released."""

        def player_rows(self, season, **window):
            ran.append("job")
            inner = super().player_rows(season, **window)

            def held():
                started.set()
                release.wait(timeout=10)
                yield from inner

            return held()

    # Two replicas fire at 06:00 together: exactly one runs the ingest.
    first = asyncio.create_task(run_daily(rt, Gated(tmp_path), day))
    assert await asyncio.to_thread(started.wait, 10)
    assert await run_daily(rt, Gated(tmp_path), day) is Outcome.SKIPPED
    release.set()
    assert await first is Outcome.RAN
    assert ran == ["job"]
    dates = await pool.fetch("SELECT DISTINCT game_date FROM ingest.player_game_stats")
    assert [r["game_date"] for r in dates] == [day]
    assert await pool.fetchval("SELECT count(*) FROM ingest.player_game_stats") == expected


async def test_a_crash_between_commit_and_publish_heals_on_the_next_run(env, tmp_path, monkeypatch):
    import statmuse_ingestor.backfill as backfill_module

    rt, pool, bootstrap = env
    rows, header = real_rows(120)
    write_season(tmp_path, rows, header)
    source = FileSource(tmp_path)

    async def broker_gone(*_args, **_kwargs):
        raise ConnectionError("broker went away")

    with monkeypatch.context() as patched:
        patched.setattr(backfill_module, "publish_many", broker_gone)
        with pytest.raises(ConnectionError):
            await backfill(rt, source=source, seasons=["2023-24"])
    # Committed, not published, and the run says so.
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM ingest.player_game_stats WHERE published_at IS NULL"
        )
        == 120
    )
    assert await pool.fetchval("SELECT status FROM ingest.ingest_runs") == "failed"

    healed = await backfill(rt, source=source, seasons=["2023-24"])
    assert (healed.stored, healed.published) == (0, 120)
    messages = await read_topic(bootstrap, topics.GAMES_RAW, 120)
    assert len(messages) == 120
    assert len({PlayerGameIngested.model_validate_json(m).event_id for m in messages}) == 120


class Postponing(FileSource):
    """The bundled schedule, with one game postponed (as the live source would say it)."""

    def __init__(self, data_dir: Path, game_id: str) -> None:
        super().__init__(data_dir)
        self.game_id = game_id

    def schedule_rows(self, season, *, date_from=None, date_to=None):
        for row in super().schedule_rows(season, date_from=date_from, date_to=date_to):
            if row.record["GAME_ID"] == self.game_id:
                row.record["STATUS"] = "postponed"
            yield row


async def test_the_schedule_is_stored_once_and_a_changed_game_published_again(env):
    rt, pool, bootstrap = env
    source = FileSource(DATA)
    first = await ingest_schedule(rt, source=source, seasons=["2023-24"])
    assert (first.read, first.stored, first.published, first.rejected) == (1319, 1319, 1319, 0)

    again = await ingest_schedule(rt, source=source, seasons=["2023-24"])
    assert (again.stored, again.unchanged, again.published) == (0, 1319, 0)

    moved = await ingest_schedule(rt, source=Postponing(DATA, "0022300990"), seasons=["2023-24"])
    assert (moved.stored, moved.published) == (1, 1)

    values = await read_topic(bootstrap, topics.SCHEDULE, 1320)
    games = [GameScheduled.model_validate_json(v) for v in values]
    assert len(games) == 1320
    assert [g.status for g in games if g.game_id == "0022300990"] == ["scheduled", "postponed"]
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT payload->>'status' AS status, payload->>'game_key' AS game_key, "
            "published_at IS NOT NULL AS published "
            "FROM ingest.feeds WHERE feed = 'schedule' AND key = '0022300990'"
        )
        unpublished = await conn.fetchval(
            "SELECT count(*) FROM ingest.feeds WHERE published_at IS NULL"
        )
    assert dict(row) == {"status": "postponed", "game_key": "2024-03-18:ATL@LAL", "published": True}
    assert unpublished == 0
