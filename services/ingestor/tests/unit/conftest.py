"""Real rows copied from data/nba/player_game_logs (bundled format) as fixtures."""

import csv
import io
from collections.abc import Callable

import pytest

HEADER = (
    "SEASON,SEASON_TYPE,GAME_ID,GAME_DATE,PLAYER_ID,PLAYER_NAME,TEAM_ABBREVIATION,MATCHUP,WL,MIN,"
    "PTS,REB,AST,STL,BLK,TOV,FGM,FGA,FG3M,FG3A,FTM,FTA,OREB,DREB,FG_PCT,FG3_PCT,FT_PCT,PLUS_MINUS"
)
# 2023-24.csv.gz: both teams of game 0022300061 (LAL @ DEN, 2023-10-24) and a playoff row
# without the shooting columns; 2017-18.csv.gz: a row from a season without them.
ROWS = {
    "jackson_den_home": "2023-24,Regular Season,0022300061,2023-10-24,202704,Reggie Jackson,DEN,"
    "DEN vs. LAL,W,24,8,3,1,1,0,2,3,8,2,5,0,0,0,3,0.375,0.4,,11",
    "jokic_den_home": "2023-24,Regular Season,0022300061,2023-10-24,203999,Nikola Jokić,DEN,"
    "DEN vs. LAL,W,36,29,13,11,1,1,2,12,22,3,5,2,4,3,10,0.545,0.6,0.5,15",
    "lebron_lal_away": "2023-24,Regular Season,0022300061,2023-10-24,2544,LeBron James,LAL,"
    "LAL @ DEN,L,29,21,8,5,1,0,0,10,16,1,4,0,1,1,7,0.625,0.25,0.0,7",
    "levert_playoffs": "2023-24,Playoffs,,2024-04-20,1627747,Caris LeVert,CLE,CLE vs. ORL,W,20,"
    "5,4,2,0,0,1,,,,,,,,,0.25,0.0,0.5,7",
    "horford_2017": "2017-18,Regular Season,,2017-10-17,201143,Al Horford,BOS,BOS @ CLE,L,32,9,"
    "7,5,0,1,0,,,,,,,,,0.286,0.0,0.714,8",
}


def parse(line: str, header: str = HEADER) -> dict[str, str]:
    return next(csv.DictReader(io.StringIO(f"{header}\n{line}\n")))


@pytest.fixture
def row() -> Callable[..., dict[str, str]]:
    """A fresh dict for one of the real rows, with optional column overrides."""

    def make(name: str, **overrides: str) -> dict[str, str]:
        return parse(ROWS[name]) | overrides

    return make


@pytest.fixture
def csv_header() -> str:
    return HEADER


@pytest.fixture
def csv_lines() -> dict[str, str]:
    return dict(ROWS)
