"""Small synthetic seasons for the engine's unit tests: four teams, a game day every one to
three days (every team plays each day, so opponent ratings exist from the sixth day on), a
few players (ids spread over the raw topic's partitions) who play some of their team's
games, team boxes of which some lack the points allowed (a broken PLUS_MINUS: the opponent's
box supplies them). As raw events, and as a hypothesis strategy; who is out for some of the
games (`reports`), another strategy over a drawn season."""

import datetime as dt
from dataclasses import dataclass

from aiokafka.partitioner import murmur2
from hypothesis import strategies as st

from statmuse_shared.contract import ids, topics
from statmuse_shared.contract.messages import (
    Absence,
    AvailabilityReported,
    PlayerGameIngested,
    RecentForm,
    TeamGameIngested,
)

TEAMS = ("BOS", "DEN", "LAL", "MIA")
PAIRINGS = (
    (("BOS", "DEN"), ("LAL", "MIA")),
    (("BOS", "LAL"), ("DEN", "MIA")),
    (("BOS", "MIA"), ("DEN", "LAL")),
)
OPENING = {"2023-24": dt.date(2023, 10, 24), "2024-25": dt.date(2024, 10, 22)}
PLAYER_IDS = tuple(range(1, 41))

RawEvent = PlayerGameIngested | TeamGameIngested


@dataclass(frozen=True)
class Game:
    season: str
    day: dt.date
    home: str
    away: str

    @property
    def key(self) -> str:
        return f"{self.day}:{self.away}@{self.home}"


def team_box(
    game: Game, team: str, *, points: int, allowed: int | None, seed: int
) -> TeamGameIngested:
    home = team == game.home
    return TeamGameIngested(
        event_id=ids.event_id("test", game.key, team),
        source="test",
        season=game.season,
        season_type="Regular Season",
        game_key=game.key,
        game_date=game.day,
        team=team,
        opponent=game.away if home else game.home,
        is_home=home,
        minutes=240.0,
        points=points,
        opponent_points=allowed,
        fga=80 + seed % 17,
        oreb=8 + seed % 7,
        tov=10 + seed % 9,
        fta=15 + seed % 13,
    )


def player_line(
    game: Game, team: str, player_id: int, *, line: tuple[int, int, int, int, int | None]
) -> PlayerGameIngested:
    minutes, points, rebounds, assists, threes = line
    home = team == game.home
    return PlayerGameIngested(
        event_id=ids.event_id("test", game.key, player_id),
        source="test",
        season=game.season,
        season_type="Regular Season",
        game_key=game.key,
        game_date=game.day,
        player_id=player_id,
        player_name=f"Player {player_id}",
        team=team,
        opponent=game.away if home else game.home,
        is_home=home,
        minutes=float(minutes),
        points=points,
        rebounds=rebounds,
        assists=assists,
        fg3m=threes,
        # Shooting and turnovers (for the usage rate), absent where threes are, as in the
        # bundled seasons that lack those columns.
        fga=None if threes is None else points // 2 + minutes // 10,
        fta=None if threes is None else points % 7,
        turnovers=None if threes is None else (assists + minutes) % 5,
    )


def partition(event: RawEvent, partitions: int) -> int:
    """The raw-topic partition the ingestor's producer picks (key: player id, or team)."""
    key = (
        topics.player_key(event.player_id)
        if isinstance(event, PlayerGameIngested)
        else topics.team_key(event.team)
    )
    return int(murmur2(key) & 0x7FFFFFFF) % partitions


LINES = st.tuples(
    st.integers(0, 48),
    st.integers(0, 40),
    st.integers(0, 15),
    st.integers(0, 12),
    st.none() | st.integers(0, 8),
)


@st.composite
def seasons(draw: st.DrawFn) -> list[RawEvent]:
    """Every raw event of one or two seasons, in date order (each day's player games, then
    its team boxes: the ingestor's order)."""
    names = draw(st.sampled_from([("2023-24",), ("2023-24", "2024-25")]))
    players = draw(st.lists(st.sampled_from(PLAYER_IDS), min_size=2, max_size=6, unique=True))
    events: list[RawEvent] = []
    for season in names:
        day = OPENING[season]
        roster = {p: draw(st.sampled_from(TEAMS)) for p in players}
        for i in range(draw(st.integers(4, 9))):
            day += dt.timedelta(days=1 if i == 0 else draw(st.integers(1, 3)))
            teams: list[TeamGameIngested] = []
            for a, b in draw(st.sampled_from(PAIRINGS)):
                home, away = (a, b) if draw(st.booleans()) else (b, a)
                game = Game(season, day, home, away)
                scores = {home: draw(st.integers(85, 130)), away: draw(st.integers(85, 130))}
                for team, other in ((home, away), (away, home)):
                    broken = draw(st.integers(0, 9)) == 0
                    allowed = None if broken else scores[other]
                    seed = draw(st.integers(0, 1000))
                    teams.append(
                        team_box(game, team, points=scores[team], allowed=allowed, seed=seed)
                    )
                    for p, plays_for in roster.items():
                        if plays_for == team and draw(st.integers(0, 4)) > 0:
                            events.append(player_line(game, team, p, line=draw(LINES)))
            events.extend(teams)
    return events


FORMS = st.builds(
    RecentForm,
    games=st.integers(1, 10),
    minutes=st.integers(0, 40).map(float),
    points=st.integers(0, 30).map(float),
    rebounds=st.integers(0, 12).map(float),
    assists=st.integers(0, 10).map(float),
)
ABSENCES = st.builds(
    Absence,
    player_id=st.sampled_from(PLAYER_IDS),
    player_name=st.just("A player"),
    status=st.sampled_from(("out", "out", "questionable")),
    recent=st.none() | FORMS,
)


@st.composite
def reports(draw: st.DrawFn, events: list[RawEvent]) -> list[AvailabilityReported]:
    """Who is out for about two team games in three of `events` (players of the season or
    not, listed out or questionable, with a recent form or without; possibly nobody), some
    lists sent again changed: in game order, a game's lists in the order they were sent."""
    out: list[AvailabilityReported] = []
    for box in (e for e in events if isinstance(e, TeamGameIngested)):
        if draw(st.integers(0, 2)) == 0:
            continue
        for version in range(draw(st.integers(1, 2))):
            absent = draw(st.lists(ABSENCES, max_size=3, unique_by=lambda a: a.player_id))
            out.append(
                AvailabilityReported(
                    event_id=ids.event_id("test", box.game_key, box.team, str(version)),
                    source="test",
                    season=box.season,
                    season_type=box.season_type,
                    game_key=box.game_key,
                    game_date=box.game_date,
                    team=box.team,
                    opponent=box.opponent,
                    absences=absent,
                )
            )
    return out


def schedule(season: str, days: int) -> list[Game]:
    """A fixed season: a game day every day, the pairings in turn, the first team at home."""
    return [
        Game(season, OPENING[season] + dt.timedelta(days=i), home, away)
        for i in range(days)
        for home, away in PAIRINGS[i % len(PAIRINGS)]
    ]


def boxes(game: Game) -> list[TeamGameIngested]:
    """Both team boxes of a game (home 100 + the day of the month, away 95)."""
    home, away = 100 + game.day.day % 20, 95
    return [
        team_box(game, game.home, points=home, allowed=away, seed=game.day.day),
        team_box(game, game.away, points=away, allowed=home, seed=game.day.day + 3),
    ]


def plays(games: list[Game], team: str, player_id: int) -> list[PlayerGameIngested]:
    """A player's line in every game of `team` (points rising by one a game)."""
    return [
        player_line(g, team, player_id, line=(30, 10 + i, 5, 4, 2))
        for i, g in enumerate(g for g in games if team in (g.home, g.away))
    ]
