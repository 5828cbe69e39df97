"""Pre-game vectors: the vector of a scheduled game, served before it is played, is the vector
of that game once played, field for field; only the outcome differs.

The parity test replays the whole bundled 2023-24 season day by day through the engine (over
the in-memory store; a third of its players, every team box): each morning the day's
schedule, then the day's box scores, then the engine idle (the service reconciles, and
computes pre-game vectors, when no batch comes). The schedule is the one the box scores imply
(as the ingestor's files source derives it); the box scores are read here from data/nba, as
the ingestor validates them.
"""

import csv
import datetime as dt
import functools
import gzip
import math
from collections import defaultdict
from pathlib import Path

from statmuse_features.core import Known, next_games, pregame
from statmuse_features.engine import Engine
from statmuse_shared.contract.messages import (
    FeaturesComputed,
    GameScheduled,
    PlayerGameIngested,
    TeamGameIngested,
)
from statmuse_shared.features import League, PlayerGame, PlayerState

from .fakes import InMemoryFeatures

DATA = Path(__file__).resolve().parents[4] / "data" / "nba"
SEASON = "2023-24"
SEASON_TYPES = {"002": "Regular Season", "004": "Playoffs", "005": "Play-In", "006": "Cup Final"}


def _read(kind: str) -> list[dict[str, str]]:
    with gzip.open(DATA / kind / f"{SEASON}.csv.gz", "rt", newline="") as f:
        return list(csv.DictReader(f))


def _side(matchup: str) -> tuple[str, str, bool]:
    """'DEN vs. LAL' -> (DEN, LAL, home); 'LAL @ DEN' -> (LAL, DEN, away)."""
    home = " vs. " in matchup
    team, opponent = matchup.split(" vs. " if home else " @ ")
    return team, opponent, home


def _key(day: str, team: str, opponent: str, home: bool) -> str:
    return f"{day}:{opponent}@{team}" if home else f"{day}:{team}@{opponent}"


def _int(text: str) -> int | None:
    return int(float(text)) if text else None


@functools.cache
def season() -> tuple[
    dict[dt.date, list[GameScheduled]],
    dict[dt.date, list[PlayerGameIngested]],
    dict[dt.date, list[TeamGameIngested]],
]:
    """The season by day: its schedule, player and team box scores."""
    teams: dict[dt.date, list[TeamGameIngested]] = defaultdict(list)
    schedule: dict[str, GameScheduled] = {}
    rows = _read("team_game_logs")
    by_game: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in rows:
        by_game[r["GAME_ID"]].append(r)
    for game_id, pair in by_game.items():
        for r in pair:
            team, opponent, home = _side(r["MATCHUP"])
            other = next((o for o in pair if o is not r), None)
            day = dt.date.fromisoformat(r["GAME_DATE"])
            key = _key(r["GAME_DATE"], team, opponent, home)
            kind = SEASON_TYPES[game_id[:3]]
            teams[day].append(
                TeamGameIngested(
                    event_id=f"team-{game_id}-{team}",
                    source="files",
                    season=SEASON,
                    season_type=kind,
                    game_id=game_id,
                    game_key=key,
                    game_date=day,
                    team=team,
                    opponent=opponent,
                    is_home=home,
                    minutes=float(r["MIN"]),
                    points=int(r["PTS"]),
                    opponent_points=int(other["PTS"]) if other else None,
                    fga=_int(r["FGA"]),
                    fta=_int(r["FTA"]),
                    oreb=_int(r["OREB"]),
                    tov=_int(r["TOV"]),
                )
            )
            if home:
                schedule[game_id] = GameScheduled(
                    event_id=f"schedule-{game_id}",
                    source="files",
                    season=SEASON,
                    season_type=kind,
                    game_id=game_id,
                    game_key=key,
                    game_date=day,
                    home=team,
                    away=opponent,
                )
    players: dict[dt.date, list[PlayerGameIngested]] = defaultdict(list)
    for r in _read("player_game_logs"):
        team, opponent, home = _side(r["MATCHUP"])
        day = dt.date.fromisoformat(r["GAME_DATE"])
        players[day].append(
            PlayerGameIngested(
                event_id=f"player-{r['PLAYER_ID']}-{r['GAME_DATE']}",
                source="files",
                season=SEASON,
                season_type=r["SEASON_TYPE"],
                game_key=_key(r["GAME_DATE"], team, opponent, home),
                game_date=day,
                player_id=int(r["PLAYER_ID"]),
                player_name=r["PLAYER_NAME"],
                team=team,
                opponent=opponent,
                is_home=home,
                minutes=float(r["MIN"]),
                points=int(r["PTS"]),
                rebounds=int(r["REB"]),
                assists=int(r["AST"]),
                fg3m=_int(r["FG3M"]),
            )
        )
    by_day: dict[dt.date, list[GameScheduled]] = defaultdict(list)
    for game in schedule.values():
        by_day[game.game_date].append(game)
    return dict(by_day), dict(players), dict(teams)


def same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return a == b or (math.isnan(a) and math.isnan(b))


# A third of the players (every team box): the whole season, its trades and its playoffs, in
# a third of the time (the cost is per player vector).
SAMPLE = 3


async def test_a_whole_season_replayed_day_by_day_serves_each_game_its_own_vector() -> None:
    schedule, every_player, teams = season()
    players = {
        day: [g for g in games if g.player_id % SAMPLE == 0] for day, games in every_player.items()
    }
    engine = Engine(InMemoryFeatures())
    await engine.load()
    before: dict[tuple[int, dt.date], FeaturesComputed] = {}  # served before the game
    after: dict[tuple[int, dt.date], FeaturesComputed] = {}  # computed once it was played
    for day in sorted(set(schedule) | set(players)):
        for v in await engine.scheduled(schedule.get(day, [])):
            assert v.kind == "game"
            assert v.outcome is None
            before[(v.player_id, v.as_of)] = v
        for v in await engine.process(players.get(day, []), teams.get(day, [])):
            if v.kind == "game":
                assert v.outcome is not None
                after[(v.player_id, v.as_of)] = v
        for v in await engine.reconcile():  # idle once the day is in: the next games' vectors
            assert v.kind == "game"
            assert v.outcome is None
            before[(v.player_id, v.as_of)] = v

    played = {(g.player_id, g.game_date): g for day in players.values() for g in day}
    assert set(after) == set(played)  # every game played has its vector
    both = set(before) & set(after)
    # Served for the game he played: the same team, the same game (a player traded since his
    # last game was served his old team's game, which he did not play).
    same_game = {
        k for k in both if (before[k].team, before[k].game) == (after[k].team, after[k].game)
    }
    assert all(before[k].team != after[k].team for k in both - same_game)
    assert len(both - same_game) < 100
    differ = [
        (k, name)
        for k in sorted(same_game)
        for name, value in before[k].features.items()
        if not same(value, after[k].features[name])
    ]
    assert differ == []
    assert all(before[k].season == after[k].season for k in same_game)
    by_player: dict[int, list[PlayerGameIngested]] = defaultdict(list)
    for g in sorted(played.values(), key=lambda g: g.game_date):
        by_player[g.player_id].append(g)
    returning = {
        (g.player_id, g.game_date)
        for games in by_player.values()
        for previous, g in zip(games, games[1:], strict=False)
        if previous.team == g.team
    }
    missing = returning - same_game
    assert sorted(missing)[:10] == []
    assert len(same_game) / len(played) > 0.95


# -- the pure parts ------------------------------------------------------------------------------


def scheduled(
    game_id: str, day: str, home: str, away: str, status: str = "scheduled"
) -> GameScheduled:
    return GameScheduled(
        event_id=game_id,
        source="files",
        season=SEASON,
        season_type="Regular Season",
        game_id=game_id,
        game_key=f"{day}:{away}@{home}",
        game_date=dt.date.fromisoformat(day),
        home=home,
        away=away,
        status=status,  # type: ignore[arg-type]
    )


def test_each_team_s_next_game_is_the_first_scheduled_after_the_last_day_played() -> None:
    games = [
        scheduled("0022300003", "2024-01-05", "DEN", "LAL"),
        scheduled("0022300001", "2024-01-03", "DEN", "BOS"),
        scheduled("0022300002", "2024-01-04", "LAL", "PHX", status="postponed"),
        scheduled("0022300000", "2024-01-02", "LAL", "DEN"),  # played already
    ]
    upcoming = next_games(games, after=dt.date(2024, 1, 2))
    assert {t: g.game_id for t, g in upcoming.items()} == {
        "DEN": "0022300001",
        "BOS": "0022300001",
        "LAL": "0022300003",
    }


def state(*games: tuple[str, str, str]) -> PlayerState:
    s = PlayerState()
    for day, team, opponent in games:
        s.add(
            PlayerGame(
                dt.date.fromisoformat(day),
                SEASON,
                "Regular Season",
                team,
                opponent,
                True,
                30.0,
                20,
                5,
                5,
                2,
            ),
            opponent_rank=None,
        )
    return s


def test_a_player_gets_the_vector_of_his_team_s_next_game_and_only_that() -> None:
    games = {"DEN": scheduled("0022300001", "2024-01-03", "BOS", "DEN")}
    players = {
        1: Known("Jokic", state(("2024-01-01", "DEN", "LAL"))),
        2: Known("Traded", state(("2024-01-01", "MIA", "LAL"))),  # no MIA game scheduled
    }
    [vector] = pregame({1: players[1], 2: players[2]}, games, League())
    assert (vector.player_id, vector.kind, vector.outcome) == (1, "game", None)
    assert vector.as_of == dt.date(2024, 1, 3)
    assert vector.game is not None
    assert (vector.game.opponent, vector.game.is_home) == ("BOS", False)
    assert vector.features["days_rest"] == 1  # a day between the 1st and the 3rd
