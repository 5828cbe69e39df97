import datetime as dt
from collections.abc import Callable

import pytest

from statmuse_ingestor.outliers import Running, flag_outliers
from statmuse_ingestor.service import (
    Normalised,
    RejectedRow,
    game_key,
    normalise_player_row,
    normalise_team_row,
    row_checksum,
)
from statmuse_shared.contract.messages import PlayerGameIngested

Row = Callable[..., dict[str, str]]


def test_home_row(row: Row) -> None:
    game = normalise_player_row(row("jackson_den_home"), source="files").game
    assert (game.team, game.opponent, game.is_home) == ("DEN", "LAL", True)
    assert game.game_date == dt.date(2023, 10, 24)
    assert game.game_id == "0022300061"
    assert (game.season, game.season_type) == ("2023-24", "Regular Season")
    assert (game.player_id, game.player_name) == (202704, "Reggie Jackson")
    assert (game.minutes, game.points, game.rebounds, game.assists) == (24.0, 8, 3, 1)
    assert (game.fgm, game.fga, game.fg3m, game.fg3a, game.ftm, game.fta) == (3, 8, 2, 5, 0, 0)
    assert (game.steals, game.blocks, game.turnovers, game.oreb, game.dreb) == (1, 0, 2, 0, 3)
    assert game.plus_minus == 11
    assert game.source == "files"


def test_away_row(row: Row) -> None:
    game = normalise_player_row(row("lebron_lal_away"), source="files").game
    assert (game.team, game.opponent, game.is_home) == ("LAL", "DEN", False)
    assert (game.points, game.rebounds, game.assists, game.fg3m) == (21, 8, 5, 1)


def test_game_key_is_the_same_for_both_teams_rows(row: Row) -> None:
    home = normalise_player_row(row("jackson_den_home"), source="files").game
    teammate = normalise_player_row(row("jokic_den_home"), source="files").game
    away = normalise_player_row(row("lebron_lal_away"), source="files").game
    assert home.game_key == away.game_key == teammate.game_key
    assert home.game_key == game_key(dt.date(2023, 10, 24), "DEN", "LAL")
    assert home.game_key.startswith("2023-10-24")
    assert game_key(dt.date(2023, 10, 24), "LAL", "DEN") != home.game_key  # home/away matter


def test_rows_without_shooting_columns_are_accepted(row: Row) -> None:
    game = normalise_player_row(row("horford_2017"), source="files").game
    assert (game.team, game.opponent, game.is_home) == ("BOS", "CLE", False)
    assert game.game_id is None
    assert (game.fgm, game.fg3m, game.ftm) == (None, None, None)
    assert (game.points, game.rebounds, game.assists, game.minutes) == (9, 7, 5, 32.0)


def test_playoff_row(row: Row) -> None:
    game = normalise_player_row(row("levert_playoffs"), source="files").game
    assert game.season_type == "Playoffs"
    assert game.game_key == game_key(dt.date(2024, 4, 20), "CLE", "ORL")


def test_play_in_spellings(row: Row) -> None:
    for spelling in ("PlayIn", "Play-In"):
        game = normalise_player_row(row("levert_playoffs", SEASON_TYPE=spelling), source="f").game
        assert game.season_type == "Play-In"


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("34:30", 34.5), ("34", 34.0), ("34.5", 34.5), ("0:45", 0.75), ("65", 65.0)],
)
def test_minutes_forms(row: Row, text: str, minutes: float) -> None:
    game = normalise_player_row(row("jackson_den_home", MIN=text), source="files").game
    assert game.minutes == pytest.approx(minutes)


def test_iso_timestamp_dates_are_accepted(row: Row) -> None:
    game = normalise_player_row(
        row("jackson_den_home", GAME_DATE="2023-10-24T00:00:00"), source="f"
    )
    assert game.game.game_date == dt.date(2023, 10, 24)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"PLAYER_NAME": ""}, "missing critical fields: PLAYER_NAME"),
        ({"PTS": "", "MIN": " "}, "missing critical fields: MIN, PTS"),
        ({"SEASON": ""}, "missing critical fields: SEASON"),
        ({"STL": "-1"}, "negative stats: STL"),
        ({"REB": "-3"}, "negative stats: REB"),
        ({"MIN": "66"}, "MIN out of range 0..65: 66.0"),
        ({"MIN": "65:30"}, "MIN out of range 0..65: 65.5"),
        ({"MIN": "-1"}, "MIN out of range 0..65: -1.0"),
        ({"MIN": "abc"}, "MIN not understood: 'abc'"),
        ({"PTS": "9"}, "PTS 9 != 2*FGM + FG3M + FTM = 8"),
        ({"FTM": "1"}, "PTS 8 != 2*FGM + FG3M + FTM = 9"),
        ({"MATCHUP": "LAL vs. DEN"}, "MATCHUP 'LAL vs. DEN' does not start with team DEN"),
        ({"MATCHUP": "DEN v LAL"}, "MATCHUP not understood: 'DEN v LAL'"),
        ({"SEASON": "2023-2024"}, "SEASON must look like 2023-24, got '2023-2024'"),
        ({"SEASON_TYPE": "Pre Season"}, "unknown SEASON_TYPE 'Pre Season'"),
        ({"GAME_DATE": "10/24/2023"}, "GAME_DATE is not a date: '10/24/2023'"),
        ({"PTS": "8.5"}, "PTS is not a whole number: '8.5'"),
        ({"AST": "one"}, "AST is not a number: 'one'"),
        ({"PLAYER_ID": "0"}, "PLAYER_ID must be positive, got 0"),
    ],
)
def test_reject_reasons(row: Row, overrides: dict[str, str], reason: str) -> None:
    with pytest.raises(RejectedRow) as info:
        normalise_player_row(row("jackson_den_home", **overrides), source="files")
    assert info.value.reason == reason


def test_event_id_is_deterministic(row: Row) -> None:
    first = normalise_player_row(row("lebron_lal_away"), source="files")
    again = normalise_player_row(row("lebron_lal_away"), source="files")
    assert first.game.event_id == again.game.event_id
    assert first.checksum == again.checksum
    # occurred_at is "now", so compare everything else
    assert first.game.model_dump(exclude={"occurred_at"}) == again.game.model_dump(
        exclude={"occurred_at"}
    )


def test_event_id_ignores_column_order(row: Row) -> None:
    original = row("lebron_lal_away")
    reordered = dict(reversed(list(original.items())))
    assert row_checksum(original) == row_checksum(reordered)
    assert (
        normalise_player_row(original, source="files").game.event_id
        == normalise_player_row(reordered, source="files").game.event_id
    )


@pytest.mark.parametrize(
    "overrides", [{"PLUS_MINUS": "8"}, {"REB": "9"}, {"WL": "W"}, {"MIN": "30"}]
)
def test_event_id_changes_when_the_row_changes(row: Row, overrides: dict[str, str]) -> None:
    base = normalise_player_row(row("lebron_lal_away"), source="files")
    changed = normalise_player_row(row("lebron_lal_away", **overrides), source="files")
    assert changed.game.event_id != base.game.event_id
    assert changed.checksum != base.checksum
    assert changed.game.game_key == base.game.game_key


def test_event_id_depends_on_source(row: Row) -> None:
    files = normalise_player_row(row("lebron_lal_away"), source="files").game
    live = normalise_player_row(row("lebron_lal_away"), source="nba_api").game
    assert files.event_id != live.event_id
    assert live.source == "nba_api"


def test_output_is_a_valid_message(row: Row) -> None:
    game = normalise_player_row(row("jokic_den_home"), source="files").game
    assert PlayerGameIngested.model_validate_json(game.model_dump_json()) == game
    assert game.player_name == "Nikola Jokić"


def _game_with(points: int, day: int, player_id: int = 7) -> Normalised:
    g = PlayerGameIngested(
        event_id=f"e{player_id}-{day}",
        source="test",
        season="2023-24",
        season_type="Regular Season",
        game_key=f"k{day}",
        game_date=dt.date(2024, 1, 1) + dt.timedelta(days=day),
        player_id=player_id,
        player_name="Synthetic Player",
        team="DEN",
        opponent="LAL",
        is_home=True,
        minutes=30,
        points=points,
        rebounds=5,
        assists=5,
    )
    return Normalised(g, f"c{day}")


def test_outliers_are_flagged_with_a_reason_and_kept() -> None:
    steady = [_game_with(20 + (d % 3), d) for d in range(12)]  # 20, 21, 22, ...
    spike = _game_with(60, 12)
    out = flag_outliers([*steady, spike], {})
    assert len(out) == 13, "flagged rows are kept"
    assert [n.game.flagged for n in out] == [False] * 12 + [True]
    assert out[-1].game.flag_reason is not None
    assert out[-1].game.flag_reason.startswith("points 60 is +")


def test_outliers_need_enough_history_and_use_prior_runs() -> None:
    # Nine earlier games are not enough history to call anything an outlier...
    few = [_game_with(20 + (d % 3), d) for d in range(9)] + [_game_with(60, 9)]
    assert not any(n.game.flagged for n in flag_outliers(few, {}))
    # ...but history stored by an earlier run counts.
    prior = {(7, "points"): Running.from_aggregate(40, 21.0, 1.0)}
    assert flag_outliers([_game_with(60, 0)], prior)[0].game.flagged
    assert not flag_outliers([_game_with(23, 0)], dict(prior))[0].game.flagged


# Real rows of 2023-24's opening night, from data/nba/team_game_logs/2023-24.csv.gz.
TEAM_HEADER = [
    "SEASON_ID",
    "TEAM_ID",
    "TEAM_ABBREVIATION",
    "TEAM_NAME",
    "GAME_ID",
    "GAME_DATE",
    "MATCHUP",
    "WL",
    "MIN",
    "PTS",
    "FGM",
    "FGA",
    "FG_PCT",
    "FG3M",
    "FG3A",
    "FG3_PCT",
    "FTM",
    "FTA",
    "FT_PCT",
    "OREB",
    "DREB",
    "REB",
    "AST",
    "STL",
    "BLK",
    "TOV",
    "PF",
    "PLUS_MINUS",
    "SEASON",
]
DEN = [
    "22023",
    "1610612743",
    "DEN",
    "Denver Nuggets",
    "0022300061",
    "2023-10-24",
    "DEN vs. LAL",
    "W",
    "240",
    "119",
    "48",
    "91",
    "0.527",
    "14",
    "34",
    "0.412",
    "9",
    "12",
    "0.75",
    "9",
    "33",
    "42",
    "29",
    "9",
    "6",
    "11",
    "15",
    "12.0",
    "2023-24",
]
LAL = [
    "22023",
    "1610612747",
    "LAL",
    "Los Angeles Lakers",
    "0022300061",
    "2023-10-24",
    "LAL @ DEN",
    "L",
    "239",
    "107",
    "41",
    "90",
    "0.456",
    "10",
    "29",
    "0.345",
    "15",
    "20",
    "0.75",
    "13",
    "31",
    "44",
    "23",
    "5",
    "4",
    "11",
    "18",
    "-12.0",
    "2023-24",
]


def test_team_rows_normalise_and_pair_up() -> None:
    den = normalise_team_row(dict(zip(TEAM_HEADER, DEN, strict=True)), source="files").game
    lal = normalise_team_row(dict(zip(TEAM_HEADER, LAL, strict=True)), source="files").game
    assert den.game_key == lal.game_key == "2023-10-24:LAL@DEN"
    assert (den.is_home, den.won, den.points, den.opponent_points) == (True, True, 119, 107)
    assert (lal.is_home, lal.won, lal.opponent_points, lal.plus_minus) == (False, False, 119, -12)
    assert (den.season, den.season_type, den.team_id) == ("2023-24", "Regular Season", 1610612743)
    assert (den.oreb, den.tov, den.fta, den.fga) == (9, 11, 12, 91)


@pytest.mark.parametrize(
    ("game_id", "expected"),
    [("0042300101", "Playoffs"), ("0052300111", "Play-In"), ("0062300001", "Cup Final")],
)
def test_team_season_type_comes_from_game_id(game_id: str, expected: str) -> None:
    row = dict(zip(TEAM_HEADER, DEN, strict=True)) | {"GAME_ID": game_id}
    assert normalise_team_row(row, source="files").game.season_type == expected


def test_team_row_that_does_not_add_up_is_rejected() -> None:
    row = dict(zip(TEAM_HEADER, DEN, strict=True)) | {"PTS": "120"}
    with pytest.raises(RejectedRow, match=r"PTS 120 != 2\*FGM"):
        normalise_team_row(row, source="files")


def test_a_broken_plus_minus_keeps_the_team_row_and_flags_it() -> None:
    # Real quirk: HOU's 2020-08-29 playoff row has PLUS_MINUS 33.8.
    row = dict(zip(TEAM_HEADER, DEN, strict=True)) | {"PLUS_MINUS": "33.8"}
    game = normalise_team_row(row, source="files").game
    assert (game.points, game.plus_minus, game.opponent_points) == (119, None, None)
    assert game.flagged
    assert game.flag_reason == "PLUS_MINUS is not a whole number: '33.8'"
