"""The features subscriber with real PostgreSQL: in-memory (TestKafkaBroker) and against the
real broker. Raw games in -> one vector per game out; poison messages -> dead-letter topic."""

import asyncio
import csv
import datetime as dt
import gzip
import itertools
from pathlib import Path
from typing import Any

import pytest
from faststream.kafka import TestKafkaBroker

from statmuse_features.handlers import register
from statmuse_features.settings import FeaturesSettings
from statmuse_shared import ids, topics
from statmuse_shared.broker import ensure_topics, make_broker
from statmuse_shared.db import create_pool
from statmuse_shared.messages import DeadLetter, FeaturesComputed, PlayerGameIngested
from statmuse_shared.migrations import migrate

pytestmark = pytest.mark.integration
REAL = Path(__file__).resolve().parents[4] / "data" / "nba" / "player_game_logs" / "2023-24.csv.gz"


def real_games(player_id: int, n: int) -> list[PlayerGameIngested]:
    """A player's first n games of 2023-24, straight from the bundled file."""
    with gzip.open(REAL, "rt", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["PLAYER_ID"] == str(player_id)]
    assert len(rows) >= n
    rows.sort(key=lambda r: r["GAME_DATE"])
    games = []
    for r in itertools.islice(rows, n):
        team, sep, opp = r["MATCHUP"].split(" ")
        home, away = (team, opp) if sep == "vs." else (opp, team)
        key = f"{r['GAME_DATE']}:{away}@{home}"
        games.append(
            PlayerGameIngested(
                event_id=ids.event_id("test", key, r["PLAYER_ID"]),
                source="test",
                season=r["SEASON"],
                season_type=r["SEASON_TYPE"],
                game_key=key,
                game_date=dt.date.fromisoformat(r["GAME_DATE"]),
                player_id=int(r["PLAYER_ID"]),
                player_name=r["PLAYER_NAME"],
                team=team,
                opponent=opp,
                is_home=sep == "vs.",
                minutes=float(r["MIN"]),
                points=int(r["PTS"]),
                rebounds=int(r["REB"]),
                assists=int(r["AST"]),
                fg3m=int(r["FG3M"]) if r["FG3M"] else None,
            )
        )
    return games


@pytest.fixture
async def pool(database_url):
    await migrate(database_url, schemas=["features"])
    p = await create_pool(database_url)
    yield p
    await p.close()


class Probe:
    """What came out of the handler, with events to wait on instead of sleeping."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.vectors: list[FeaturesComputed] = []
        self.dead: list[DeadLetter] = []
        self.all_vectors, self.dead_lettered = asyncio.Event(), asyncio.Event()


def wire(bootstrap: str, pool: Any, unique: str, expected: int) -> tuple[Any, Probe]:
    settings = FeaturesSettings(database_url="postgresql://unused", group_id=f"features-{unique}")
    broker = make_broker(bootstrap, client_id=f"test-{unique}")
    register(broker, {"pool": pool}, settings=settings)
    probe = Probe(expected)

    @broker.subscriber(topics.FEATURES, group_id=f"probe-{unique}", auto_offset_reset="earliest")
    async def vectors(body: FeaturesComputed) -> None:
        probe.vectors.append(body)
        if len(probe.vectors) >= probe.expected:
            probe.all_vectors.set()

    @broker.subscriber(
        topics.dead_letter(topics.GAMES_RAW), group_id=f"dlq-{unique}", auto_offset_reset="earliest"
    )
    async def dlq(body: DeadLetter) -> None:
        probe.dead.append(body)
        probe.dead_lettered.set()

    return broker, probe


async def feed(broker: Any, games: list[PlayerGameIngested]) -> None:
    for g in games:
        await broker.publish(
            g.model_dump_json().encode(), topics.GAMES_RAW, key=topics.player_key(g.player_id)
        )
    await broker.publish(b"{not json", topics.GAMES_RAW, key=b"1")


def check(games: list[PlayerGameIngested], probe: Probe) -> None:
    out, dead = probe.vectors, probe.dead
    assert len(out) == len(games)
    latest = max(out, key=lambda v: v.as_of)
    assert latest.as_of == games[-1].game_date + dt.timedelta(days=1)
    last5 = [g.points for g in games[-5:]]
    assert latest.features["points_rolling_mean_5"] == pytest.approx(sum(last5) / 5)
    assert latest.features["points_games_in_window_10"] == min(10, len(games))
    assert len(dead) == 1
    assert "invalid" in dead[0].error


async def test_handler_in_memory(pool, unique):
    games = real_games(203999, 12)  # Nikola Jokić
    broker, probe = wire("localhost:9092", pool, unique, len(games))
    async with TestKafkaBroker(broker) as br:
        await feed(br, games)
    check(games, probe)
    assert await pool.fetchval("SELECT count(*) FROM features.feature_vectors") == len(games)


async def test_handler_on_the_real_broker(pool, unique, kafka_bootstrap):
    await ensure_topics(kafka_bootstrap, topics.all_with_dead_letters())
    games = real_games(1628973, 8)  # Jalen Brunson
    broker, probe = wire(kafka_bootstrap, pool, unique, len(games))
    await broker.start()
    try:
        await feed(broker, games)
        waits = asyncio.gather(probe.all_vectors.wait(), probe.dead_lettered.wait())
        await asyncio.wait_for(waits, timeout=60)
    finally:
        await broker.stop()
    check(games, probe)
