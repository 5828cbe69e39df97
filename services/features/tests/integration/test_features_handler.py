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
from faststream.kafka.annotations import KafkaMessage

from statmuse_features.adapters.postgres import PostgresFeatures
from statmuse_features.app import build_runtime
from statmuse_features.engine import Engine
from statmuse_features.service import partition_of, player_game, vectors_and_state, vectors_for
from statmuse_features.settings import FeaturesSettings
from statmuse_shared.contract import ids, topics, vectors
from statmuse_shared.contract.messages import (
    Absence,
    AvailabilityReported,
    DeadLetter,
    FeaturesComputed,
    PlayerGameIngested,
    RecentForm,
    TeamGameIngested,
)
from statmuse_shared.platform.broker import ensure_topics
from statmuse_shared.platform.db import Database, create_pool
from statmuse_shared.platform.migrations import migrate

pytestmark = pytest.mark.integration
DATA = Path(__file__).resolve().parents[4] / "data" / "nba"
REAL = DATA / "player_game_logs" / "2023-24.csv.gz"


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
                steals=int(r["STL"]),
                blocks=int(r["BLK"]),
                fga=int(r["FGA"]),
                fta=int(r["FTA"]),
                turnovers=int(r["TOV"]),
            )
        )
    return games


def _given(count: int | None) -> int:
    assert count is not None
    return count


def usage_by_hand(
    games: list[PlayerGameIngested], teams: list[TeamGameIngested], before: dt.date
) -> tuple[float, float]:
    """(usage rate, true shooting) over the player's last 10 games before `before`, from the
    box scores with the textbook formulas (no feature code)."""
    box = {(t.team, t.game_date): t for t in teams}
    last = [g for g in games if g.game_date < before][-10:]
    rates = []
    for g in last:
        t = box[(g.team, g.game_date)]
        plays = _given(g.fga) + 0.44 * _given(g.fta) + _given(g.turnovers)
        team_plays = _given(t.fga) + 0.44 * _given(t.fta) + _given(t.tov)
        rates.append(100 * plays * (t.minutes / 5) / (g.minutes * team_plays))
    points = sum(g.points for g in last)
    shots = sum(2 * (g.fga + 0.44 * g.fta) for g in last if g.fga is not None and g.fta is not None)
    return sum(rates) / len(rates), points / shots


def real_team_games(until: dt.date) -> list[TeamGameIngested]:
    """Every team box of 2023-24 up to `until`, from the bundled team log."""
    with gzip.open(DATA / "team_game_logs" / "2023-24.csv.gz", "rt", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["GAME_DATE"] <= until.isoformat()]
    out = []
    for r in rows:
        team, sep, opp = r["MATCHUP"].split(" ")
        home, away = (team, opp) if sep == "vs." else (opp, team)
        key = f"{r['GAME_DATE']}:{away}@{home}"
        out.append(
            TeamGameIngested(
                event_id=ids.event_id("test", key, team),
                source="test",
                season="2023-24",
                season_type="Regular Season" if r["GAME_ID"].startswith("002") else "Playoffs",
                game_key=key,
                game_date=dt.date.fromisoformat(r["GAME_DATE"]),
                team=team,
                opponent=opp,
                is_home=sep == "vs.",
                minutes=float(r["MIN"]),
                points=int(r["PTS"]),
                opponent_points=int(r["PTS"]) - int(float(r["PLUS_MINUS"])),
                fga=int(r["FGA"]),
                oreb=int(r["OREB"]),
                tov=int(r["TOV"]),
                fta=int(r["FTA"]),
            )
        )
    return out


@pytest.fixture
async def pool(database_url):
    await migrate(database_url, schemas=["features"])
    p = await create_pool(database_url)
    yield p
    await p.close()


def repository(pool: Any) -> PostgresFeatures:
    return PostgresFeatures(Database.of(pool))


class Probe:
    """What came out of the handler, with events to wait on instead of sleeping."""

    def __init__(self, last_as_of: dt.date) -> None:
        self.last_as_of = last_as_of
        self.vectors: list[FeaturesComputed] = []
        self.dead: list[DeadLetter] = []
        self.latest_seen, self.dead_lettered = asyncio.Event(), asyncio.Event()


async def wire(
    bootstrap: str, pool: Any, unique: str, last_as_of: dt.date
) -> tuple[Any, Probe, Engine]:
    settings = FeaturesSettings(
        database_url="postgresql://unused",
        group_id=f"features-{unique}",
        kafka_bootstrap_servers=bootstrap,
    )
    rt = build_runtime(settings, features=repository(pool), standalone=True)
    await rt.started()
    rt.bind()
    broker, engine = rt.broker, rt.engine
    probe = Probe(last_as_of)

    @broker.subscriber(topics.FEATURES, group_id=f"probe-{unique}", auto_offset_reset="earliest")
    async def packed(msg: KafkaMessage) -> None:
        body = vectors.decode(msg.body)
        probe.vectors.append(body)
        if body.kind == "next" and body.as_of == probe.last_as_of:
            probe.latest_seen.set()

    @broker.subscriber(
        topics.dead_letter(topics.GAMES_RAW), group_id=f"dlq-{unique}", auto_offset_reset="earliest"
    )
    async def dlq(body: DeadLetter) -> None:
        probe.dead.append(body)
        probe.dead_lettered.set()

    return broker, probe, engine


async def feed(broker: Any, events: list[Any], *, poison: bool = True) -> None:
    for e in events:
        key = (
            topics.player_key(e.player_id)
            if isinstance(e, PlayerGameIngested)
            else topics.team_key(e.team)
        )
        await broker.publish(e.model_dump_json().encode(), topics.GAMES_RAW, key=key)
    if poison:
        await broker.publish(b"{not json", topics.GAMES_RAW, key=b"1")


def by_date(players: list[PlayerGameIngested], teams: list[TeamGameIngested]) -> list[Any]:
    """The ingestor's order: each day's player rows, then that day's team rows."""
    return sorted([*players, *teams], key=lambda e: (e.game_date, e.kind == "team_game"))


def check(games: list[PlayerGameIngested], probe: Probe) -> None:
    latest = next(v for v in reversed(probe.vectors) if v.kind == "next")
    assert latest.as_of == games[-1].game_date + dt.timedelta(days=1)
    last5 = [g.points for g in games[-5:]]
    assert latest.features["points_sma_5"] == pytest.approx(sum(last5) / 5)
    assert latest.features["points_n_10"] == min(10, len(games))
    assert latest.features["opp_def_rating"] is None, "the next game's opponent is unknown"
    played = {v.as_of: v for v in probe.vectors if v.kind == "game"}
    assert sorted(played) == [g.game_date for g in games]
    for g in games:
        assert played[g.game_date].outcome is not None
        assert played[g.game_date].outcome.points == g.points
    assert len(probe.dead) == 1
    assert "invalid" in probe.dead[0].error


async def stored(pool: Any) -> list[tuple[Any, ...]]:
    return [
        tuple(r)
        for r in await pool.fetch(
            "SELECT player_id, as_of, kind, game_date, vector FROM features.feature_vectors "
            "WHERE kind = 'game' ORDER BY 1, 2"
        )
    ]


async def test_handler_in_memory_with_opponent_strength(pool, unique):
    games = real_games(203999, 30)  # Nikola Jokić
    teams = real_team_games(games[-1].game_date)
    broker, probe, _ = await wire(
        "localhost:9092", pool, unique, games[-1].game_date + dt.timedelta(days=1)
    )
    async with TestKafkaBroker(broker) as br:
        await feed(br, by_date(games, teams))
    check(games, probe)
    late = [v for v in probe.vectors if v.kind == "game" and v.as_of > games[12].game_date]
    assert all(v.features["opp_def_rating"] is not None for v in late[-5:])
    assert all(v.features["opp_def_rank"] is not None for v in late[-5:])
    # Usage and true shooting through the stored columns and the team boxes' plays (SQL).
    last = next(v for v in reversed(probe.vectors) if v.as_of == games[-1].game_date)
    usage, true_shooting = usage_by_hand(games, teams, games[-1].game_date)
    assert last.features["usage_10"] == pytest.approx(usage, rel=1e-9)
    assert last.features["usage_n_10"] == 10
    assert last.features["true_shooting_10"] == pytest.approx(true_shooting, rel=1e-9)


async def test_a_replay_fills_the_columns_a_stored_row_lacks(pool, unique):
    """Rows stored before migrations 0005 and 0007 have no FGA, FTA, turnovers, steals or
    blocks; replaying the same box scores (same event ids) stores them and recomputes the
    vectors."""
    games = real_games(203999, 15)
    teams = real_team_games(games[-1].game_date)
    lacking = {"fga": None, "fta": None, "turnovers": None, "steals": None, "blocks": None}
    bare = [g.model_copy(update=lacking) for g in games]
    broker, probe, engine = await wire("localhost:9092", pool, unique, dt.date.max)
    async with TestKafkaBroker(broker) as br:
        await feed(br, by_date(bare, teams), poison=False)
    await engine.reconcile()
    last = games[-1].game_date
    before = next(v for v in reversed(probe.vectors) if v.as_of == last)
    assert before.features["usage_10"] is None
    assert before.features["true_shooting_10"] is None
    assert before.features["steals_sma_10"] is None
    assert before.features["blocks_career_n"] == 0
    broker, probe, engine = await wire("localhost:9092", pool, f"{unique}b", dt.date.max)
    async with TestKafkaBroker(broker) as br:
        await feed(br, by_date(games, teams), poison=False)
    await engine.reconcile()
    republished = [v for v in probe.vectors if v.as_of == last]
    assert republished, "the replay changed no stored row, so no vector was recomputed"
    after = republished[-1]
    usage, _ = usage_by_hand(games, teams, last)
    assert after.features["usage_10"] == pytest.approx(usage, rel=1e-9)
    earlier = [g for g in games if g.game_date < last]
    steals = [_given(g.steals) for g in earlier[-10:]]
    assert after.features["steals_sma_10"] == pytest.approx(sum(steals) / len(steals))
    assert after.features["blocks_career_n"] == len(earlier)
    stored = await pool.fetchval(
        "SELECT count(*) FROM features.player_games WHERE player_id = 203999 "
        "AND (fga IS NULL OR steals IS NULL OR blocks IS NULL)"
    )
    assert stored == 0


async def test_replay_in_any_order_gives_identical_rows(pool, unique, database_url, infra):
    """Players first, teams last (the worst order: every vector goes stale and is healed) and
    a replay onto the same tables must give exactly the rows of the in-order run."""
    games = [*real_games(203999, 20), *real_games(2544, 20)]
    teams = real_team_games(max(g.game_date for g in games))
    broker, _, engine = await wire("localhost:9092", pool, unique, dt.date.max)
    async with TestKafkaBroker(broker) as br:
        await feed(br, by_date(games, teams), poison=False)
    await engine.reconcile()
    in_order = await stored(pool)
    assert len(in_order) == 40

    other = f"{database_url}_b"
    admin = infra.database_url
    import asyncpg

    conn = await asyncpg.connect(admin)
    name = other.rsplit("/", 1)[1]
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    try:
        await migrate(other, schemas=["features"])
        pool_b = await create_pool(other)
        try:
            broker_b, _, engine_b = await wire("localhost:9092", pool_b, f"{unique}b", dt.date.max)
            async with TestKafkaBroker(broker_b) as br:
                await feed(br, [*games, *teams], poison=False)
            assert engine_b.stale, "teams after players: the vectors are known to be stale"
            assert await stored(pool_b) != in_order
            await engine_b.reconcile()
            assert not engine_b.stale
            assert await stored(pool_b) == in_order
        finally:
            await pool_b.close()
    finally:
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()

    # Replaying everything onto the same tables changes nothing and publishes nothing.
    broker_c, probe_c, _ = await wire("localhost:9092", pool, f"{unique}c", dt.date.max)
    async with TestKafkaBroker(broker_c) as br:
        await feed(br, by_date(games, teams), poison=False)
    assert await stored(pool) == in_order
    assert probe_c.vectors == []


async def test_handler_on_the_real_broker(pool, unique, kafka_bootstrap):
    await ensure_topics(kafka_bootstrap, topics.all_with_dead_letters())
    games = real_games(1628973, 8)  # Jalen Brunson
    last = games[-1].game_date + dt.timedelta(days=1)
    broker, probe, _ = await wire(kafka_bootstrap, pool, unique, last)
    await broker.start()
    try:
        await feed(broker, games)
        waits = asyncio.gather(probe.latest_seen.wait(), probe.dead_lettered.wait())
        await asyncio.wait_for(waits, timeout=60)
    finally:
        await broker.stop()
    check(games, probe)


async def batch_build(pool: Any) -> dict[tuple[int, dt.date], str]:
    """(player, as_of) -> event id of every vector a batch build from the tables gives."""
    features = repository(pool)
    engine = Engine(features)
    await engine.load()
    found = await features.histories(await features.all_players())
    return {
        (v.player_id, v.as_of): v.event_id
        for player_id, (name, history) in found.items()
        for v in vectors_for(
            player_id=player_id, player_name=name, history=history, league=engine.league
        )
    }


async def stored_ids(pool: Any) -> dict[tuple[int, dt.date], str]:
    rows = await pool.fetch("SELECT player_id, as_of, event_id FROM features.feature_vectors")
    return {(r["player_id"], r["as_of"]): r["event_id"] for r in rows}


async def test_engines_of_one_group_share_the_league_and_split_the_players(pool):
    """Two engines on one database, as two instances of one consumer group: each computes and
    heals only its own partitions' players, with the whole league (team boxes stored by either),
    in the worst order (every team box after every player game); a partition that moves with a
    stale range pending is healed by its new owner. The rows equal a batch build's."""
    ids = (203999, 2544, 1628973, 201939, 1629029, 203507, 1628369, 1630162)
    games = [g for p in ids for g in real_games(p, 12)]
    teams = real_team_games(max(g.game_date for g in games))
    a, b = Engine(repository(pool), owned=frozenset()), Engine(repository(pool), owned=frozenset())
    for engine in (a, b):
        await engine.load()
    a.assign({0, 1, 2}, partitions=6)
    b.assign({3, 4, 5}, partitions=6)
    mine = {id(a): {0, 1, 2}, id(b): {3, 4, 5}}
    owner = {p: (a if partition_of(p, 6) in mine[id(a)] else b) for p in ids}
    assert {id(e) for e in owner.values()} == {id(a), id(b)}, "players on both sides"
    published: dict[int, list[FeaturesComputed]] = {id(a): [], id(b): []}

    async def feed_players(day_from: dt.date, day_to: dt.date) -> None:
        for g in games:
            if day_from <= g.game_date <= day_to:
                engine = owner[g.player_id]
                published[id(engine)] += await engine.process([g], [])

    # The first half: players of every day, then every team box (half on each engine).
    middle = sorted({g.game_date for g in games})[len({g.game_date for g in games}) // 2]
    await feed_players(dt.date.min, middle)
    early = [t for t in teams if t.game_date <= middle]
    published[id(a)] += await a.process([], early[::2])
    published[id(b)] += await b.process([], early[1::2])
    for engine in (a, b):
        published[id(engine)] += await engine.reconcile()
    assert (a.stale, b.stale) == ({}, {})
    for engine in (a, b):
        assert {partition_of(v.player_id, 6) for v in published[id(engine)]} <= mine[id(engine)]

    # The second half, then a rebalance while a stale range is pending: b's partition 3 goes
    # to a before b reconciles; a heals it (b no longer touches it).
    await feed_players(middle + dt.timedelta(days=1), dt.date.max)
    late = [t for t in teams if t.game_date > middle]
    published[id(a)] += await a.process([], late[::2])
    published[id(b)] += await b.process([], late[1::2])
    a.assign({0, 1, 2, 3}, partitions=6)
    b.assign({4, 5}, partitions=6)
    mine = {id(a): {0, 1, 2, 3}, id(b): {4, 5}}
    before = len(published[id(a)]), len(published[id(b)])
    for _ in range(2):  # the second round finds nothing left
        for engine in (a, b):
            published[id(engine)] += await engine.reconcile()
    assert (a.stale, b.stale) == ({}, {})
    for engine, n in zip((a, b), before, strict=True):
        assert {partition_of(v.player_id, 6) for v in published[id(engine)][n:]} <= mine[id(engine)]
    # (Streaming also leaves each earlier `next` vector: a batch build has the latest only.)
    batch, stored = await batch_build(pool), await stored_ids(pool)
    assert {k: stored.get(k) for k in batch} == batch


async def test_who_is_out_from_the_topic_reaches_the_vectors_of_its_day(pool, unique):
    """LeBron James out on 2024-03-26 (his recent means from the file), read from
    nba.availability.v1 after the box scores: the Lakers' vectors of that day are stale, the
    reconcile recomputes them over PostgreSQL, and they equal a batch build's."""
    day = dt.date(2024, 3, 26)
    with gzip.open(REAL, "rt", newline="") as f:
        lal = [r for r in csv.DictReader(f) if r["TEAM_ABBREVIATION"] == "LAL"]
    last_10 = sorted({r["GAME_DATE"][:10] for r in lal if r["GAME_DATE"][:10] < str(day)})[-10:]
    his = [r for r in lal if r["PLAYER_ID"] == "2544" and r["GAME_DATE"][:10] in last_10]
    form = RecentForm(
        games=len(his),
        minutes=sum(float(r["MIN"]) for r in his) / len(his),
        points=sum(int(r["PTS"]) for r in his) / len(his),
        rebounds=sum(int(r["REB"]) for r in his) / len(his),
        assists=sum(int(r["AST"]) for r in his) / len(his),
    )
    key = f"{day}:LAL@MIL"
    lakers = AvailabilityReported(
        event_id=ids.event_id("test", key, "LAL"),
        source="test",
        season="2023-24",
        season_type="Regular Season",
        game_key=key,
        game_date=day,
        team="LAL",
        opponent="MIL",
        absences=[Absence(player_id=2544, player_name="LeBron James", recent=form)],
    )
    davis = sum(1 for r in lal if r["PLAYER_ID"] == "203076" and r["GAME_DATE"][:10] <= str(day))
    games = real_games(203076, davis)  # Anthony Davis, who played that day
    assert games[-1].game_date == day
    teams = real_team_games(day)
    broker, probe, engine = await wire("localhost:9092", pool, unique, dt.date.max)
    async with TestKafkaBroker(broker) as br:
        await feed(br, by_date(games, teams), poison=False)
        await engine.reconcile()
        before = {(r[0], r[1]) for r in await stored(pool)}
        await br.publish(lakers.model_dump_json().encode(), topics.AVAILABILITY, key=b"k")
    assert engine.stale, "a report of a day already computed makes it stale"
    recomputed = await engine.reconcile()  # what the idle-time reconcile would publish
    assert not engine.stale
    after = next(v for v in recomputed if v.as_of == day and v.kind == "game")
    assert after.features["out_n"] == 1
    assert after.features["out_minutes"] == pytest.approx(form.minutes)
    assert after.features["out_points"] == pytest.approx(form.points)
    assert {(r[0], r[1]) for r in await stored(pool)} == before  # recomputed in place
    reader = Engine(repository(pool))
    await reader.load()
    batch, _ = vectors_and_state(
        player_id=203076,
        player_name="Anthony Davis",
        history=[player_game(g) for g in games],
        league=reader.league,
    )
    by_day = {v.as_of: v for v in batch if v.kind == "game"}
    assert by_day[day].features == after.features
