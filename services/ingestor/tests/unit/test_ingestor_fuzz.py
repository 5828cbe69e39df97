"""Malformed input, generated: a file row is either normalised or rejected with a reason, and
a file that is not a readable CSV is a SourceError naming the file and line, never anything
else."""

import csv
import gzip
import itertools
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from statmuse_ingestor.service import (
    Normalised,
    NormalisedTeam,
    RejectedRow,
    normalise_player_row,
    normalise_team_row,
)
from statmuse_ingestor.sources import FileSource, SourceError

DATA = Path(__file__).resolve().parents[4] / "data" / "nba"


def real(kind: str, n: int = 50) -> list[dict[str, str]]:
    with gzip.open(DATA / kind / "2023-24.csv.gz", "rt", newline="") as f:
        return list(itertools.islice(csv.DictReader(f), n))


PLAYERS, TEAMS = real("player_game_logs"), real("team_game_logs")
garbage = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            " ",
            "-1",
            "NaN",
            "inf",
            "1e308",
            "3.5",
            "99999999999999999999",
            "2024-02-30",
            "24-25",
            "LAL @",
            "DEN vs. DEN",
            "0x1F",
            "None",
            "\x00",
        ]
    ),
    st.integers(-(10**6), 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
)


def mutated(rows: list[dict[str, str]]) -> st.SearchStrategy[dict[str, str]]:
    keys = sorted(rows[0])

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, str]:
        row = dict(draw(st.sampled_from(rows)))
        for key in draw(st.lists(st.sampled_from(keys), max_size=6, unique=True)):
            row[key] = draw(garbage)
        for key in draw(st.lists(st.sampled_from(keys), max_size=2, unique=True)):
            row.pop(key, None)
        return row

    return build()


def outcome(normalise: Any, row: dict[str, str]) -> tuple[Any, str]:
    try:
        return normalise(row, source="files"), ""
    except RejectedRow as exc:
        return None, exc.reason


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(PLAYERS))
def test_any_player_row_is_normalised_or_rejected_with_a_reason(row: dict[str, str]):
    out, reason = outcome(normalise_player_row, row)
    if out is None:
        assert reason.strip()
        return
    assert isinstance(out, Normalised)
    g = out.game
    assert g.minutes >= 0
    assert min(g.points, g.rebounds, g.assists) >= 0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(TEAMS))
def test_any_team_row_is_normalised_or_rejected_with_a_reason(row: dict[str, str]):
    out, reason = outcome(normalise_team_row, row)
    if out is None:
        assert reason.strip()
        return
    assert isinstance(out, NormalisedTeam)


def season_file(tmp: Path, data: bytes, name: str = "2023-24.csv.gz") -> FileSource:
    folder = tmp / "player_game_logs"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return FileSource(tmp)


def good_csv(rows: int = 5) -> bytes:
    with gzip.open(DATA / "player_game_logs" / "2023-24.csv.gz", "rb") as f:
        return b"".join(itertools.islice(f, rows + 1))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=400), gz=st.booleans(), cut=st.integers(0, 4000))
def test_a_corrupt_file_is_a_source_error_or_rows(
    tmp_path_factory, data: bytes, gz: bool, cut: int
):
    """Random bytes, a truncated gzip, a good file with garbage spliced in: rows come out (to
    be validated one by one) or a SourceError names the file; nothing else escapes."""
    tmp = tmp_path_factory.mktemp("files")
    good = good_csv()
    payload = good[:cut] + data + good[cut:]
    if gz:
        payload = gzip.compress(payload)[: max(cut, 10)] if cut % 3 == 0 else gzip.compress(payload)
    source = season_file(tmp, payload, "2023-24.csv.gz" if gz else "2023-24.csv")
    try:
        rows = list(source.player_rows("2023-24"))
    except SourceError as exc:
        rows, error = [], str(exc)
    else:
        error = ""
    assert not error or "2023-24.csv" in error
    for r in rows:
        assert r.location.startswith("2023-24.csv")
        assert all(isinstance(v, str) for v in r.record.values())


def test_invalid_utf8_names_the_line(tmp_path: Path):
    good = good_csv(3).split(b"\n")
    good[2] = good[2].replace(b"LeBron", b"Le\xffBron", 1) + b"\xfe\xff"
    source = season_file(tmp_path, gzip.compress(b"\n".join(good)))
    with pytest.raises(SourceError, match=r"2023-24.csv.gz.*(line \d|UTF-8)"):
        list(source.player_rows("2023-24"))
