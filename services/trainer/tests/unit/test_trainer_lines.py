"""Real prop lines: read, de-vigged, and matched to the bundled players' names."""

import csv
import gzip
from pathlib import Path

import pytest

from statmuse_trainer.lines import match_key, match_players, read_lines

DATA = Path(__file__).resolve().parents[4] / "data" / "nba"
LINES = sorted((DATA / "prop_lines").glob("*.csv.gz"))


def nba_players() -> dict[str, int]:
    players = {}
    with gzip.open(DATA / "player_game_logs" / "2023-24.csv.gz", "rt", newline="") as f:
        for r in csv.DictReader(f):
            players[r["PLAYER_NAME"]] = int(r["PLAYER_ID"])
    return players


def test_match_key_removes_accents_punctuation_and_suffixes():
    assert match_key("Luka Dončić") == match_key("Luka Doncic") == "luka doncic"
    assert match_key("Jaren Jackson Jr.") == "jaren jackson"
    assert match_key("Kelly Oubre Jr") == "kelly oubre"
    assert match_key("Shai Gilgeous-Alexander") == "shai gilgeous alexander"
    assert match_key("P.J. Washington") == "pj washington"


def test_fair_probability_of_a_real_line():
    first = next(read_lines(LINES[:1]))
    # Anthony Davis assists 2.5 at BetMGM, -110 / -120 (the file's first row).
    assert (first.player_name, first.market, first.line) == ("Anthony Davis", "assists", 2.5)
    p_over, p_under = 110 / 210, 120 / 220
    assert first.fair_over == pytest.approx(p_over / (p_over + p_under))


def test_book_nicknames_match_the_nba_name():
    assert match_key("Herb Jones") == match_key("Herbert Jones")
    assert match_key("Moe Wagner") == match_key("Moritz Wagner")
    assert match_key("Vincent Williams Jr") == match_key("Vince Williams Jr.")


def test_more_than_99_percent_of_real_lines_match_a_player():
    lines = list(read_lines(LINES))
    assert len(lines) > 150_000
    matched, unmatched = match_players(lines, nba_players())
    share = len(matched) / len(lines)
    # The README promises about 98% for accents, punctuation and suffixes; the nickname table
    # takes it to 99.8%. The rest are reversed or initialled names ("Wembanyama Victor").
    assert share >= 0.995, f"only {share:.1%} matched; e.g. {unmatched[:5]}"
    assert {line.market for _, line in matched} == {
        "points",
        "rebounds",
        "assists",
        "threes",
        "pra",
    }
