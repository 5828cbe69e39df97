"""Sources of raw box-score and schedule rows: bundled or exported files here, nba_api in
nba_api_source."""

import csv
import datetime as dt
import gzip
import io
import zlib
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from statmuse_ingestor.availability_rows import absences_from_box_scores
from statmuse_ingestor.rows import RawRow
from statmuse_ingestor.schedule_rows import from_box_scores

__all__ = ["FileSource", "RawRow", "Source", "SourceError", "SourceName"]


class SourceName(StrEnum):
    """The sources there are (`--source`, INGESTOR_DAILY_SOURCE)."""

    FILES = "files"
    NBA_API = "nba_api"


class Source(Protocol):
    """Where box scores and the schedule come from. Rows are yielded as the source has them;
    normalisation (service.py) understands both the bundled columns and nba_api's
    LeagueGameLog columns; schedule rows have the columns `schedule` reads."""

    name: str

    def player_rows(
        self, season: str, *, date_from: dt.date | None = None, date_to: dt.date | None = None
    ) -> Iterator[RawRow]: ...

    def team_rows(
        self, season: str, *, date_from: dt.date | None = None, date_to: dt.date | None = None
    ) -> Iterator[RawRow]: ...

    def schedule_rows(
        self, season: str, *, date_from: dt.date | None = None, date_to: dt.date | None = None
    ) -> Iterator[RawRow]: ...


class SourceError(RuntimeError):
    """The source cannot give what was asked (missing file, unreachable API after retries)."""


class FileSource:
    """The bundled format (`player_game_logs/<season>.csv[.gz]`, `team_game_logs/…`) or plain
    nba_api LeagueGameLog CSV exports laid out the same way, one season per file."""

    name = "files"

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    def _path(self, folder: str, season: str) -> Path:
        for candidate in (
            self.data_dir / folder / f"{season}.csv.gz",
            self.data_dir / folder / f"{season}.csv",
        ):
            if candidate.exists():
                return candidate
        kind = "player" if folder.startswith("player") else "team"
        raise SourceError(f"no {kind} game log for {season} under {self.data_dir}")

    def player_rows(
        self, season: str, *, date_from: dt.date | None = None, date_to: dt.date | None = None
    ) -> Iterator[RawRow]:
        return self._rows(self._path("player_game_logs", season), date_from, date_to)

    def team_rows(
        self, season: str, *, date_from: dt.date | None = None, date_to: dt.date | None = None
    ) -> Iterator[RawRow]:
        return self._rows(self._path("team_game_logs", season), date_from, date_to)

    def schedule_rows(
        self, season: str, *, date_from: dt.date | None = None, date_to: dt.date | None = None
    ) -> Iterator[RawRow]:
        """The games the season's box scores imply (`schedule_rows.from_box_scores`): from the
        team logs, or from the player logs for a season that has none."""
        window = {"date_from": date_from, "date_to": date_to}
        if self.has_team_rows(season):
            return from_box_scores(self.team_rows(season, **window))
        return from_box_scores(self.player_rows(season, **window))

    def availability_rows(
        self, season: str, *, date_from: dt.date | None = None, date_to: dt.date | None = None
    ) -> Iterator[RawRow]:
        """Who was out of each team's rotation in each game (`availability_rows`' stand-in),
        between the dates; the whole season is read, for the rotations before them."""
        lo = date_from.isoformat() if date_from else ""
        hi = date_to.isoformat() if date_to else "9999"
        for row in absences_from_box_scores(self.player_rows(season)):
            if lo <= row.record["GAME_DATE"] <= hi:
                yield row

    def lines_rows(
        self, season: str, *, date_from: dt.date | None = None, date_to: dt.date | None = None
    ) -> Iterator[RawRow]:
        """Every prop line of the season's files (`prop_lines/<season>_*.csv[.gz]`, the bundled
        format) between the dates; SourceError when the season has none."""
        paths = sorted((self.data_dir / "prop_lines").glob(f"{season}_*.csv*"))
        if not paths:
            raise SourceError(f"no prop lines for {season} under {self.data_dir / 'prop_lines'}")
        return (
            row
            for path in paths
            for row in self._rows(path, date_from, date_to, date_column="game_date")
        )

    def has_team_rows(self, season: str) -> bool:
        try:
            self._path("team_game_logs", season)
        except SourceError:
            return False
        return True

    @staticmethod
    def _rows(
        path: Path,
        date_from: dt.date | None,
        date_to: dt.date | None,
        *,
        date_column: str = "GAME_DATE",
    ) -> Iterator[RawRow]:
        lo = date_from.isoformat() if date_from else ""
        hi = date_to.isoformat() if date_to else "9999"
        opener = gzip.open if path.suffix == ".gz" else open
        line = 1
        try:
            with opener(path, "rb") as raw:
                text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
                reader = csv.DictReader(text)
                for record in reader:
                    line = reader.line_num
                    row = {k: v or "" for k, v in record.items() if isinstance(k, str) and k}
                    # Filter on the text date; rows with a bad date still reach validation.
                    day = row.get(date_column, "")[:10]
                    if (lo or date_to) and day and not lo <= day <= hi:
                        continue
                    yield RawRow(f"{path.name}:{line}", row)
        except (UnicodeDecodeError, csv.Error, EOFError, zlib.error, gzip.BadGzipFile) as exc:
            # The file itself is unreadable from here on: nothing after this point can be
            # trusted, so the run stops with the place and the reason (rows are only stored
            # after the whole season has been read, so nothing is half-stored).
            kind = "UTF-8" if isinstance(exc, UnicodeDecodeError) else type(exc).__name__
            raise SourceError(f"{path.name}: unreadable after line {line} ({kind}): {exc}") from exc
