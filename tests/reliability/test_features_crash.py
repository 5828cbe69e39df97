"""kill -9 a features instance in the middle of a season; after a restart its feature rows must
be complete (one game vector per (player, game) fed, equal to a batch build from the same
tables), none duplicated, and every stored vector published.

The season so far (2023-24 to 5 Nov) is consumed by a first instance; then the next days are
ingested and the instance is killed with SIGKILL mid-batch, at the moment PostgreSQL shows
games it has stored whose vectors it has not stored yet (the worst moment: every effect of the
batch is half done and its offsets are not committed). A second instance, same consumer group,
takes over; one more day is ingested after the restart, so that every partition has messages
after the kill and "consumed everything" is observable without looking at offsets.

The idle reconcile is off in both instances (FEATURES_RECONCILE_IDLE_S=3600): it exists to
recompute vectors made stale by late team box scores, and when it ran (it recomputed a whole
season whenever a team box came late, which, before each team box went to every partition,
was at the end of every backlog) it sometimes hid what a crash leaves behind. Off, the test
sees what the restart alone gives. Values are therefore not compared with a batch build here
(stale vectors are expected without the reconcile; the features integration tests compare
them)."""

import datetime as dt

import asyncpg
import pytest

from statmuse_ingestor.app import connected
from statmuse_ingestor.backfill import backfill
from statmuse_ingestor.settings import IngestorSettings
from statmuse_ingestor.sources import FileSource
from statmuse_shared.contract import topics, vectors
from statmuse_shared.platform.migrations import migrate

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]

FIRST = (dt.date(2023, 10, 24), dt.date(2023, 10, 29))  # consumed before the crash
SECOND = (dt.date(2023, 10, 30), dt.date(2023, 11, 5))  # killed while consuming these
AFTER = (dt.date(2023, 11, 6), dt.date(2023, 11, 6))  # ingested after the restart

GAP = """SELECT count(*) FROM features.player_games g WHERE NOT EXISTS (
             SELECT 1 FROM features.feature_vectors v WHERE v.player_id = g.player_id
             AND v.as_of = g.game_date AND v.kind = 'game')"""


async def ingest(database_url: str, bootstrap: str, kit, window: tuple[dt.date, dt.date]) -> int:
    """The real ingest path (rows stored, then published from the outbox); messages published
    (a team box is one per partition)."""
    settings = IngestorSettings(database_url=database_url, kafka_bootstrap_servers=bootstrap)
    async with connected(settings) as rt:
        summary = await backfill(
            rt,
            source=FileSource(kit.data),
            seasons=[kit.season],
            date_from=window[0],
            date_to=window[1],
        )
    return summary.messages


async def test_kill_9_mid_season_then_restart_gives_complete_rows(
    database_url, own_broker, services, kit
):
    bootstrap = own_broker.url
    await kit.create_topics(bootstrap)
    await migrate(database_url, schemas=["ingest", "features"])
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    # No idle reconcile (see the module's docstring): what a restart alone gives.
    services.env.update(
        DATABASE_URL=database_url,
        KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        FEATURES_RECONCILE_IDLE_S="3600",
        # Batches smaller than the default, so that the week killed in comes in several.
        FEATURES_MAX_BATCH="300",
    )
    try:
        first = services.start("features")
        await services.ready(first)
        fed = await ingest(database_url, bootstrap, kit, FIRST)
        try:
            await kit.eventually(
                f"{fed} messages consumed",
                lambda: _at_least(kit.metric(first.url, "statmuse_features_messages_total"), fed),
                deadline_s=60,
            )
        except TimeoutError as exc:
            raise AssertionError(f"{exc}\n{first.log_tail()}") from None
        stored_first = await pool.fetchval("SELECT count(*) FROM features.player_games")

        # The next days arrive; kill -9 mid-batch: games stored, their vectors not yet.
        fed += await ingest(database_url, bootstrap, kit, SECOND)

        async def mid_batch() -> int:
            if not first.alive():
                raise AssertionError(f"features exited by itself:\n{first.log_tail()}")
            n = await pool.fetchval("SELECT count(*) FROM features.player_games")
            return n > stored_first + 200 and await pool.fetchval(GAP)

        await kit.eventually("a batch half done", mid_batch, deadline_s=60, interval_s=0.005)
        services.kill(first)
        missing_at_kill = await pool.fetchval(GAP)
        assert missing_at_kill > 0, "killed mid-batch: games stored, their vectors not"
        consumed_at_kill = await pool.fetchval("SELECT count(*) FROM features.player_games")
        expected_games = await pool.fetchval("SELECT count(*) FROM ingest.player_game_stats")
        assert 0 < consumed_at_kill < expected_games, "killed in the middle of the backlog"

        second = services.start("features")
        await services.ready(second)
        await ingest(database_url, bootstrap, kit, AFTER)

        # Every partition carries games of the last day, after everything sent before: once
        # they are all stored with their vectors, everything before them was consumed.
        async def last_day_done() -> bool:
            if not second.alive():
                raise AssertionError(f"features exited:\n{second.log_tail()}")
            return await pool.fetchval(
                """SELECT count(*) = 0 FROM ingest.player_game_stats i WHERE game_date = $1
                   AND NOT EXISTS (SELECT 1 FROM features.feature_vectors v
                       WHERE v.player_id = i.player_id AND v.as_of = i.game_date
                       AND v.kind = 'game')""",
                AFTER[0],
            )

        await kit.eventually("the last day consumed", last_day_done, deadline_s=60)
        # Complete: every game fed is stored once, and every game has its game vector.
        ingested = {
            tuple(r)
            for r in await pool.fetch("SELECT player_id, game_key FROM ingest.player_game_stats")
        }
        consumed = [
            tuple(r)
            for r in await pool.fetch("SELECT player_id, game_key FROM features.player_games")
        ]
        assert len(consumed) == len(set(consumed)), "a game is stored twice"
        assert set(consumed) == ingested, "the features service lost or invented games"
        missing = await pool.fetch(GAP.replace("count(*)", "g.player_id, g.game_date"))
        assert not missing, (
            f"{len(missing)} of {len(consumed)} games have no game vector after the restart "
            f"({missing_at_kill} had none at the kill; first: {[tuple(r) for r in missing[:3]]})"
        )
        twice = await pool.fetch(
            "SELECT player_id, as_of, count(*) AS n FROM features.feature_vectors "
            "GROUP BY 1, 2 HAVING count(*) > 1"
        )
        assert not twice, "a vector is stored twice"
        # The latest vector of every player is the one for the game after his last.
        stale_next = await pool.fetchval(
            """SELECT count(*) FROM (SELECT player_id, max(game_date) AS last
                   FROM features.player_games GROUP BY 1) p
               WHERE NOT EXISTS (SELECT 1 FROM features.feature_vectors v
                   WHERE v.player_id = p.player_id AND v.kind = 'next'
                   AND v.as_of = p.last + 1)"""
        )
        assert stale_next == 0, f"{stale_next} players lack their next-game vector"

        # Every stored vector was published (duplicates are allowed: at-least-once).
        wanted = {
            r["event_id"] for r in await pool.fetch("SELECT event_id FROM features.feature_vectors")
        }

        def all_published(records: list) -> bool:
            return wanted <= {vectors.decode(r.value).event_id for r in records}

        await kit.read_topic(bootstrap, topics.FEATURES, until=all_published, deadline_s=30)
        assert second.alive(), second.log_tail()
    finally:
        await pool.close()


async def _at_least(value, target: float) -> bool:
    return await value >= target
