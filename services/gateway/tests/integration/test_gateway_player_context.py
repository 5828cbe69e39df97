"""Player context against real PostgreSQL and Redis: built from the gateway's own read model,
cached for 6 h, dropped for exactly the players a new game touches, correct with Redis down."""

import csv
import datetime as dt
import gzip
from pathlib import Path

import pytest
from faststream.kafka import TestKafkaBroker
from redis.asyncio import Redis

from statmuse_gateway.adapters.cache import RedisContextCache
from statmuse_gateway.app import build_runtime
from statmuse_gateway.contexts import context_of as _context
from statmuse_gateway.settings import GatewaySettings
from statmuse_shared.contract import ids, topics
from statmuse_shared.contract.messages import PlayerGameIngested, TeamGameIngested
from statmuse_shared.models.artifacts import LocalArtifactStore
from statmuse_shared.models.serving import ModelBook
from statmuse_shared.platform.db import Database, create_pool
from statmuse_shared.platform.migrations import migrate

pytestmark = pytest.mark.integration
DATA = Path(__file__).resolve().parents[4] / "data" / "nba"


def rows(kind: str) -> list[dict[str, str]]:
    with gzip.open(DATA / kind / "2023-24.csv.gz", "rt", newline="") as f:
        return list(csv.DictReader(f))


def player_event(r: dict[str, str]) -> PlayerGameIngested:
    team, sep, opp = r["MATCHUP"].split(" ")
    home, away = (team, opp) if sep == "vs." else (opp, team)
    key = f"{r['GAME_DATE']}:{away}@{home}"
    return PlayerGameIngested(
        event_id=ids.event_id("t", key, r["PLAYER_ID"]),
        source="t",
        season="2023-24",
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
        fga=int(r["FGA"]) if r["FGA"] else None,
        fta=int(r["FTA"]) if r["FTA"] else None,
        turnovers=int(r["TOV"]),
    )


def team_event(r: dict[str, str]) -> TeamGameIngested:
    team, sep, opp = r["MATCHUP"].split(" ")
    home, away = (team, opp) if sep == "vs." else (opp, team)
    key = f"{r['GAME_DATE']}:{away}@{home}"
    return TeamGameIngested(
        event_id=ids.event_id("t", key, team),
        source="t",
        season="2023-24",
        season_type="Regular Season",
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


@pytest.fixture
async def gateway(database_url, infra, tmp_path, unique):
    await migrate(database_url, schemas=["gateway"])
    pool = await create_pool(database_url)
    redis = Redis.from_url(infra.redis_url)
    await redis.flushdb()
    state = build_runtime(
        GatewaySettings(database_url="postgresql://x", group_id=f"gw-{unique}"),
        db=Database.of(pool),
        redis=redis,
        book=ModelBook(store=LocalArtifactStore(tmp_path)),
    )
    state.bind()
    broker = state.broker
    await pool.execute(
        "INSERT INTO gateway.players VALUES (2544, 'LeBron James', 'lebron james', 'LAL', "
        "'2024-01-01')"
    )
    yield state, broker, redis
    await redis.aclose()
    await pool.close()


async def publish(broker, events) -> None:
    for e in events:
        key = topics.player_key(e.player_id) if e.kind == "player_game" else topics.team_key(e.team)
        await broker.publish(e.model_dump_json().encode(), topics.GAMES_RAW, key=key)


async def test_context_is_cached_and_dropped_for_exactly_the_touched_players(gateway):
    state, broker, redis = gateway
    lebron = sorted(
        (r for r in rows("player_game_logs") if r["PLAYER_ID"] == "2544"),
        key=lambda r: r["GAME_DATE"],
    )
    first, later = lebron[:20], lebron[20]
    cutoff = first[-1]["GAME_DATE"]
    teams = [team_event(r) for r in rows("team_game_logs") if r["GAME_DATE"] <= cutoff]
    async with TestKafkaBroker(broker) as br:
        await publish(br, [*teams, *(player_event(r) for r in first)])
        ctx = await _context(
            state, name="LeBron James", game_date=None, opponent="DEN", is_home=False
        )
        assert isinstance(ctx, dict)
        # Checked against the file, independently of the feature code.
        points = [int(r["PTS"]) for r in first]
        assert ctx["season_averages"]["points"] == pytest.approx(sum(points) / len(points))
        assert ctx["rolling_averages"]["points"]["last_5"] == pytest.approx(sum(points[-5:]) / 5)
        # Every stat the models predict, the sums of two among them (stored steals and blocks).
        stocks = [int(r["STL"]) + int(r["BLK"]) for r in first]
        assert ctx["season_averages"]["stocks"] == pytest.approx(sum(stocks) / len(stocks))
        assert ctx["rolling_averages"]["stocks"]["last_5"] == pytest.approx(sum(stocks[-5:]) / 5)
        steals = [int(r["STL"]) for r in first]
        assert ctx["rolling_averages"]["steals"]["last_10"] == pytest.approx(sum(steals[-10:]) / 10)
        assert ctx["recent_games"][0]["blocks"] == int(first[-1]["BLK"])
        pr = [int(r["PTS"]) + int(r["REB"]) for r in first]
        assert ctx["rolling_averages"]["pr"]["last_3"] == pytest.approx(sum(pr[-3:]) / 3)
        assert [g["game_date"] for g in ctx["recent_games"]] == [
            r["GAME_DATE"] for r in reversed(first[-5:])
        ]
        pts = sum(points)
        shots = sum(2 * (int(r["FGA"]) + 0.44 * int(r["FTA"])) for r in first)
        assert ctx["advanced"]["true_shooting"] == pytest.approx(pts / shots)
        assert ctx["opponent"]["team"] == "DEN"
        assert ctx["opponent"]["defensive_rating"] is not None

        keys = await redis.smembers("ctx-keys:2544")
        assert len(keys) == 1
        assert (
            await _context(
                state, name="LeBron James", game_date=None, opponent="DEN", is_home=False
            )
            == ctx
        )

        # Another player's game leaves LeBron's cache alone; his own game drops it.
        other = next(r for r in rows("player_game_logs") if r["PLAYER_ID"] != "2544")
        await publish(br, [player_event(other)])
        assert await redis.exists(*keys) == 1
        await publish(br, [player_event(later)])
        assert await redis.exists(*keys) == 0
        fresh = await _context(
            state, name="LeBron James", game_date=None, opponent="DEN", is_home=False
        )
        assert fresh["recent_games"][0]["game_date"] == later["GAME_DATE"]


async def test_a_new_team_box_of_the_opponent_is_seen_though_the_player_is_untouched(gateway):
    """The context reads the league (the opponent's rating and rank), which any team box
    moves: the cached answer must not outlive it."""
    state, broker, redis = gateway
    lebron = sorted(
        (r for r in rows("player_game_logs") if r["PLAYER_ID"] == "2544"),
        key=lambda r: r["GAME_DATE"],
    )[:20]
    cutoff = lebron[-1]["GAME_DATE"]
    teams = rows("team_game_logs")
    nuggets = sorted(
        (r for r in teams if r["TEAM_ABBREVIATION"] == "DEN"), key=lambda r: r["GAME_DATE"]
    )
    later = next(r for r in nuggets if r["GAME_DATE"] > cutoff)
    async with TestKafkaBroker(broker) as br:
        await publish(br, [*(team_event(r) for r in teams if r["GAME_DATE"] <= cutoff)])
        await publish(br, [player_event(r) for r in lebron])
        # LeBron's next game, asked for after Denver has played again.
        day = dt.date.fromisoformat(later["GAME_DATE"]) + dt.timedelta(days=1)

        async def ask():
            return await _context(
                state, name="LeBron James", game_date=day, opponent="DEN", is_home=False
            )

        first = await ask()
        assert await ask() == first  # a hit
        await publish(br, [team_event(later)])
        assert await redis.scard("ctx-keys:2544") == 1  # LeBron's entry was not dropped...
        second = await ask()
    # ... but not read either: Denver has one more game in its rating.
    assert second["opponent"]["games"] == first["opponent"]["games"] + 1
    assert second["recent_games"] == first["recent_games"]


async def test_another_instance_answers_with_the_team_boxes_this_one_stored(
    gateway, database_url, tmp_path, monkeypatch
):
    """Two instances on one PostgreSQL; only the first one's consumer gets the box scores
    (a consumer group gives each instance some partitions). The second one answers with the
    same league, once its sync interval has passed."""
    state, broker, _ = gateway
    pool = await create_pool(database_url)
    other = build_runtime(
        GatewaySettings(database_url="postgresql://x", group_id="gw-other"),
        db=Database.of(pool),
        redis=Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2),
        book=ModelBook(store=LocalArtifactStore(tmp_path)),
    )
    await other.started()
    lebron = sorted(
        (r for r in rows("player_game_logs") if r["PLAYER_ID"] == "2544"),
        key=lambda r: r["GAME_DATE"],
    )[:20]
    cutoff = lebron[-1]["GAME_DATE"]
    teams = [team_event(r) for r in rows("team_game_logs") if r["GAME_DATE"] <= cutoff]
    async with TestKafkaBroker(broker) as br:
        await publish(br, [*teams, *(player_event(r) for r in lebron)])

    async def ask(rt):
        return await _context(
            rt, name="LeBron James", game_date=None, opponent="DEN", is_home=False
        )

    here = await ask(state)
    assert here["opponent"]["defensive_rating"] is not None
    assert other.league.fingerprint != state.league.fingerprint  # nothing folded in yet
    monkeypatch.setattr("statmuse_gateway.contexts.LEAGUE_SYNC_S", 0.0)
    assert await ask(other) == here
    assert other.league.fingerprint == state.league.fingerprint
    assert other.league_version == state.league_version > 0
    await pool.close()


async def test_redis_down_gives_the_same_answer(gateway):
    state, broker, _ = gateway
    lebron = sorted(
        (r for r in rows("player_game_logs") if r["PLAYER_ID"] == "2544"),
        key=lambda r: r["GAME_DATE"],
    )[:12]
    async with TestKafkaBroker(broker) as br:
        await publish(br, [player_event(r) for r in lebron])
    with_cache = await _context(
        state, name="LeBron James", game_date=None, opponent=None, is_home=None
    )
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_timeout=0.2, socket_connect_timeout=0.2)
    state.context_cache = RedisContextCache(dead)
    without = await _context(
        state, name="LeBron James", game_date=None, opponent=None, is_home=None
    )
    assert without == with_cache
    await dead.aclose()
