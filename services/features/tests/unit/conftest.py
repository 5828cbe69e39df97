"""Game histories for feature tests: LeBron James' first twelve 2023-24 games (2023-24.csv.gz)."""

import datetime as dt
from collections.abc import Callable

import pytest

from statmuse_features.service import GameRow

# date, opponent-home key, minutes, points, rebounds, assists, threes (FG3M)
LEBRON_2023_24 = [
    ("2023-10-24", "LAL@DEN", 29, 21, 8, 5, 1),
    ("2023-10-26", "PHX@LAL", 35, 21, 8, 9, 1),
    ("2023-10-29", "LAL@SAC", 39, 27, 15, 8, 3),
    ("2023-10-30", "ORL@LAL", 33, 19, 3, 4, 2),
    ("2023-11-01", "LAC@LAL", 42, 35, 12, 7, 4),
    ("2023-11-04", "LAL@ORL", 35, 24, 9, 5, 2),
    ("2023-11-06", "LAL@MIA", 37, 30, 4, 3, 0),
    ("2023-11-08", "LAL@HOU", 27, 18, 6, 2, 0),
    ("2023-11-10", "LAL@PHX", 36, 32, 11, 6, 3),
    ("2023-11-14", "MEM@LAL", 23, 16, 9, 6, 3),
    ("2023-11-15", "SAC@LAL", 35, 28, 10, 12, 3),
    ("2023-11-17", "LAL@POR", 35, 35, 5, 9, 5),
]


def make_game(
    day: str | dt.date,
    *,
    points: int,
    rebounds: int = 5,
    assists: int = 5,
    threes: int | None = 1,
    minutes: float = 30.0,
    season: str = "2023-24",
    key: str | None = None,
    team: str = "LAL",
) -> GameRow:
    date = dt.date.fromisoformat(day) if isinstance(day, str) else day
    return GameRow(
        game_date=date,
        game_key=key or f"{date.isoformat()}:X@{team}",
        season=season,
        team=team,
        player_name="LeBron James",
        minutes=minutes,
        points=points,
        rebounds=rebounds,
        assists=assists,
        threes=threes,
    )


@pytest.fixture
def game() -> Callable[..., GameRow]:
    return make_game


@pytest.fixture
def lebron() -> list[GameRow]:
    return [
        make_game(d, key=f"{d}:{k}", minutes=m, points=p, rebounds=r, assists=a, threes=t)
        for d, k, m, p, r, a, t in LEBRON_2023_24
    ]
