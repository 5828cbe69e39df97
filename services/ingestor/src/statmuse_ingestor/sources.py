"""Sources of raw box-score rows. Files now; nba_api live behind the same interface later."""

import csv
import gzip
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

_SEASON_RANGE = re.compile(r"^(\d{4})-(\d{2})\.\.(\d{4})-(\d{2})$")


@dataclass(frozen=True, slots=True)
class RawRow:
    location: str  # file:line, for the reject report
    record: dict[str, str]


class Source(Protocol):
    name: str

    def player_rows(self, season: str) -> Iterator[RawRow]: ...


class SourceError(RuntimeError):
    pass


def parse_seasons(spec: str) -> list[str]:
    """'2023-24', '2021-22,2023-24' or '2017-18..2023-24' -> explicit seasons."""
    spec = spec.strip()
    match = _SEASON_RANGE.match(spec)
    if match:
        first, last = _check_season(spec.split("..")[0]), _check_season(spec.split("..")[1])
        if last < first:
            raise ValueError(f"season range runs backwards: {spec}")
        return [f"{y}-{(y + 1) % 100:02d}" for y in range(first, last + 1)]
    seasons = [s.strip() for s in spec.split(",") if s.strip()]
    for s in seasons:
        _check_season(s)
    if not seasons:
        raise ValueError("no season given")
    return seasons


def _check_season(text: str) -> int:
    """'2023-24' -> 2023, or ValueError."""
    if not re.match(r"^\d{4}-\d{2}$", text) or (int(text[:4]) + 1) % 100 != int(text[5:]):
        raise ValueError(f"not a season: {text!r} (expected e.g. 2023-24)")
    return int(text[:4])


_SEASON_ID_TYPES = {"2": "Regular Season", "4": "Playoffs", "5": "PlayIn"}


def _from_season_id(season_id: str) -> dict[str, str]:
    """nba_api's SEASON_ID '22023' = season type digit (2 regular, 4 playoffs, 5 play-in) +
    start year. Unknown digits are left for validation to reject."""
    out: dict[str, str] = {}
    if len(season_id) == 5 and season_id.isdigit():
        year = int(season_id[1:])
        out["SEASON"] = f"{year}-{(year + 1) % 100:02d}"
        if season_id[0] in _SEASON_ID_TYPES:
            out.setdefault("SEASON_TYPE", _SEASON_ID_TYPES[season_id[0]])
    return out


class FileSource:
    """The bundled format (`player_game_logs/<season>.csv[.gz]`) or a LeagueGameLog CSV export."""

    name = "files"

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    def _path(self, season: str) -> Path:
        for candidate in (
            self.data_dir / "player_game_logs" / f"{season}.csv.gz",
            self.data_dir / "player_game_logs" / f"{season}.csv",
        ):
            if candidate.exists():
                return candidate
        raise SourceError(f"no player game log for {season} under {self.data_dir}")

    def player_rows(self, season: str) -> Iterator[RawRow]:
        path = self._path(season)
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            reader = csv.DictReader(text)
            for line, record in enumerate(reader, start=2):
                # LeagueGameLog exports carry SEASON_ID (22023) instead of SEASON.
                if "SEASON" not in record and record.get("SEASON_ID"):
                    record.update(_from_season_id(record["SEASON_ID"]))
                yield RawRow(f"{path.name}:{line}", {k: v or "" for k, v in record.items() if k})
