import datetime as dt

import pytest

from statmuse_shared.contract.seasons import parse_seasons, season_name, season_of, season_start


@pytest.mark.parametrize(
    ("day", "season"),
    [
        (dt.date(2024, 3, 1), "2023-24"),
        (dt.date(2023, 10, 24), "2023-24"),
        (dt.date(2023, 9, 30), "2022-23"),
        (dt.date(2024, 6, 17), "2023-24"),
        (dt.date(2020, 8, 29), "2019-20"),  # the 2020 bubble playoffs
        (dt.date(2020, 10, 11), "2019-20"),  # their last game
        (dt.date(2020, 12, 22), "2020-21"),  # the late opening night
        (dt.date(1999, 12, 31), "1999-00"),
    ],
)
def test_season_of_a_date(day: dt.date, season: str) -> None:
    assert season_of(day) == season


def test_names_and_starts_round_trip() -> None:
    for year in (1999, 2017, 2023):
        assert season_start(season_name(year)) == year


@pytest.mark.parametrize("bad", ["2023", "2023-25", "23-24", "2023-24 ", "abcd-ef"])
def test_not_a_season(bad: str) -> None:
    with pytest.raises(ValueError, match="not a season"):
        season_start(bad)


def test_parse_seasons() -> None:
    assert parse_seasons("2017-18..2019-20") == ["2017-18", "2018-19", "2019-20"]
    assert parse_seasons(" 2021-22, 2023-24 ") == ["2021-22", "2023-24"]
    assert parse_seasons("1999-00") == ["1999-00"]
    with pytest.raises(ValueError, match="backwards"):
        parse_seasons("2023-24..2021-22")
    with pytest.raises(ValueError, match="no season"):
        parse_seasons(" , ")
    with pytest.raises(ValueError, match="not a season"):
        parse_seasons("2021-22,2023")
