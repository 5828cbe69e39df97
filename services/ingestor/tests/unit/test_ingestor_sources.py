import csv
import gzip
import io
from pathlib import Path

import pytest

from statmuse_ingestor.service import normalise_player_row
from statmuse_ingestor.sources import FileSource, SourceError
from statmuse_shared.contract.seasons import parse_seasons

# nba_api LeagueGameLog (player) columns: SEASON_ID instead of SEASON, and no SEASON_TYPE (the
# request's SeasonType shows in SEASON_ID's first digit: 2 regular, 4 playoffs, 5 play-in).
LEAGUE_GAME_LOG_HEADER = (
    "SEASON_ID,PLAYER_ID,PLAYER_NAME,TEAM_ID,TEAM_ABBREVIATION,TEAM_NAME,GAME_ID,GAME_DATE,"
    "MATCHUP,WL,MIN,FGM,FGA,FG_PCT,FG3M,FG3A,FG3_PCT,FTM,FTA,FT_PCT,OREB,DREB,REB,AST,STL,BLK,"
    "TOV,PF,PTS,PLUS_MINUS,FANTASY_PTS,VIDEO_AVAILABLE"
)
# LeBron's 2023-10-24 line (2023-24.csv.gz) in LeagueGameLog column order; TEAM_ID is the
# Lakers' id, PF is not in the bundled data (a placeholder 1), FANTASY_PTS computed from the line.
LEBRON_LGL = (
    "22023,2544,LeBron James,1610612747,LAL,Los Angeles Lakers,0022300061,2023-10-24,LAL @ DEN,L,"
    "29,10,16,0.625,1,4,0.25,0,1,0.0,1,7,8,5,1,0,0,1,21,7,41.1,1"
)


def test_season_range() -> None:
    seasons = parse_seasons("2017-18..2023-24")
    assert seasons == ["2017-18", "2018-19", "2019-20", "2020-21", "2021-22", "2022-23", "2023-24"]


def test_century_boundary() -> None:
    assert parse_seasons("1998-99..2000-01") == ["1998-99", "1999-00", "2000-01"]
    assert parse_seasons("1999-00") == ["1999-00"]


def test_single_and_listed_seasons() -> None:
    assert parse_seasons(" 2023-24 ") == ["2023-24"]
    assert parse_seasons("2021-22, 2023-24") == ["2021-22", "2023-24"]
    assert parse_seasons("2023-24..2023-24") == ["2023-24"]


@pytest.mark.parametrize(
    "spec",
    [
        "",
        " , ",
        "2023",
        "2023-25",
        "2023-2024",
        "23-24",
        "2023-24..2017-18",
        "2017-18..2023",
        "2023-24;2022-23",
        "2021-22,nope",
    ],
)
def test_bad_specs_raise(spec: str) -> None:
    with pytest.raises(ValueError, match="season"):
        parse_seasons(spec)


@pytest.mark.parametrize("spec", ["2017-99..2019-55", "2017-18..2019-55"])
def test_bad_range_ends_raise(spec: str) -> None:
    with pytest.raises(ValueError, match="season"):
        parse_seasons(spec)


def write_gzip_csv(path: Path, header: str, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8", newline="") as out:
        out.write("\n".join([header, *lines]) + "\n")
    return path


def test_file_source_reads_the_bundled_gzip_format(
    tmp_path: Path, csv_header: str, csv_lines: dict[str, str]
) -> None:
    lines = [
        csv_lines["jackson_den_home"],
        csv_lines["jokic_den_home"],
        csv_lines["lebron_lal_away"],
    ]
    write_gzip_csv(tmp_path / "player_game_logs" / "2023-24.csv.gz", csv_header, lines)
    got = list(FileSource(tmp_path).player_rows("2023-24"))
    assert [r.location for r in got] == ["2023-24.csv.gz:2", "2023-24.csv.gz:3", "2023-24.csv.gz:4"]
    expected = [next(csv.DictReader(io.StringIO(f"{csv_header}\n{line}\n"))) for line in lines]
    assert [r.record for r in got] == expected
    assert got[1].record["PLAYER_NAME"] == "Nikola Jokić"  # utf-8 survives
    assert got[0].record["FT_PCT"] == ""
    games = [normalise_player_row(r.record, source=FileSource.name).game for r in got]
    assert [(g.player_id, g.team, g.is_home) for g in games] == [
        (202704, "DEN", True),
        (203999, "DEN", True),
        (2544, "LAL", False),
    ]
    assert len({g.game_key for g in games}) == 1


def test_file_source_reads_plain_csv_and_pads_short_rows(tmp_path: Path, csv_header: str) -> None:
    folder = tmp_path / "player_game_logs"
    folder.mkdir()
    short = "2017-18,Regular Season,,2017-10-17,201143,Al Horford,BOS,BOS @ CLE,L,32,9,7,5"
    (folder / "2017-18.csv").write_text(f"{csv_header}\n{short}\n", encoding="utf-8")
    [raw] = FileSource(tmp_path).player_rows("2017-18")
    assert raw.location == "2017-18.csv:2"
    assert raw.record["AST"] == "5"
    assert raw.record["PLUS_MINUS"] == ""  # missing trailing cells become "", never None
    assert set(raw.record) == set(csv_header.split(","))


def test_file_source_prefers_gzip(
    tmp_path: Path, csv_header: str, csv_lines: dict[str, str]
) -> None:
    write_gzip_csv(
        tmp_path / "player_game_logs" / "2023-24.csv.gz", csv_header, [csv_lines["lebron_lal_away"]]
    )
    (tmp_path / "player_game_logs" / "2023-24.csv").write_text(f"{csv_header}\n", encoding="utf-8")
    assert len(list(FileSource(tmp_path).player_rows("2023-24"))) == 1


def test_file_source_missing_season(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no player game log for 2019-20"):
        list(FileSource(tmp_path).player_rows("2019-20"))


def test_league_game_log_export_gets_season_from_season_id(tmp_path: Path) -> None:
    # A LeagueGameLog export that someone annotated with SEASON_TYPE: SEASON comes from SEASON_ID.
    header = LEAGUE_GAME_LOG_HEADER + ",SEASON_TYPE"
    write_gzip_csv(
        tmp_path / "player_game_logs" / "2023-24.csv.gz", header, [LEBRON_LGL + ",Regular Season"]
    )
    [raw] = FileSource(tmp_path).player_rows("2023-24")
    assert "SEASON" not in raw.record, "the record is kept as the source gave it"
    assert raw.record["SEASON_ID"] == "22023"
    game = normalise_player_row(raw.record, source="files").game
    assert (game.season, game.player_id, game.points, game.fg3m, game.is_home) == (
        "2023-24",
        2544,
        21,
        1,
        False,
    )


def test_season_id_of_a_century_season(tmp_path: Path) -> None:
    header = LEAGUE_GAME_LOG_HEADER
    write_gzip_csv(
        tmp_path / "player_game_logs" / "1999-00.csv.gz",
        header,
        [LEBRON_LGL.replace("22023,", "21999,", 1)],
    )
    [raw] = FileSource(tmp_path).player_rows("1999-00")
    assert normalise_player_row(raw.record, source="files").game.season == "1999-00"


def test_real_league_game_log_export_normalises(tmp_path: Path) -> None:
    write_gzip_csv(
        tmp_path / "player_game_logs" / "2023-24.csv.gz", LEAGUE_GAME_LOG_HEADER, [LEBRON_LGL]
    )
    [raw] = FileSource(tmp_path).player_rows("2023-24")
    game = normalise_player_row(raw.record, source="files").game
    assert (game.season, game.season_type) == ("2023-24", "Regular Season")
