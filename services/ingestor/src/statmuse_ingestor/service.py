"""Pure ingest logic: normalise a source row into a player box score, or say why not.

No broker, no database: everything here is unit-tested on plain dicts.
"""

import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from statmuse_shared import ids
from statmuse_shared.messages import PlayerGameIngested

_MATCHUP = re.compile(r"^(?P<team>[A-Z]{2,3}) (?P<sep>vs\.|@) (?P<opp>[A-Z]{2,3})$")
_SEASON = re.compile(r"^\d{4}-\d{2}$")
SEASON_TYPES = {
    "Regular Season": "Regular Season",
    "Playoffs": "Playoffs",
    "PlayIn": "Play-In",
    "Play-In": "Play-In",
}
CRITICAL = (
    "SEASON",
    "SEASON_TYPE",
    "GAME_DATE",
    "PLAYER_ID",
    "PLAYER_NAME",
    "TEAM_ABBREVIATION",
    "MATCHUP",
    "MIN",
    "PTS",
    "REB",
    "AST",
)
_OPTIONAL_INTS = {
    "STL": "steals",
    "BLK": "blocks",
    "TOV": "turnovers",
    "FGM": "fgm",
    "FGA": "fga",
    "FG3M": "fg3m",
    "FG3A": "fg3a",
    "FTM": "ftm",
    "FTA": "fta",
    "OREB": "oreb",
    "DREB": "dreb",
}
MAX_MINUTES = 65


class RejectedRow(ValueError):
    """A row that cannot be trusted; `reason` says why, for the dead-letter topic and report."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Normalised:
    game: PlayerGameIngested
    checksum: str


def _text(row: Mapping[str, object], key: str) -> str:
    value = row.get(key)
    return "" if value is None else str(value).strip()


def _int(row: Mapping[str, object], key: str, *, required: bool) -> int | None:
    text = _text(row, key)
    if not text:
        if required:
            raise RejectedRow(f"missing {key}")
        return None
    try:
        number = float(text)
    except ValueError:
        raise RejectedRow(f"{key} is not a number: {text!r}") from None
    if not number.is_integer():
        raise RejectedRow(f"{key} is not a whole number: {text!r}")
    return int(number)


def _minutes(text: str) -> float:
    """'34', '34.5' or 'MM:SS' (nba_api's string form) -> minutes as a number."""
    if ":" in text:
        mins, _, secs = text.partition(":")
        return int(mins) + int(secs) / 60
    return float(text)


def row_checksum(row: Mapping[str, object]) -> str:
    canonical = json.dumps({k: _text(row, k) for k in sorted(row)}, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def game_key(game_date: dt.date, home: str, away: str) -> str:
    """The natural game key. (date, home, away) exists in every source; GAME_ID does not."""
    return f"{game_date.isoformat()}:{away}@{home}"


def normalise_player_row(row: Mapping[str, object], *, source: str) -> Normalised:
    missing = [k for k in CRITICAL if not _text(row, k)]
    if missing:
        raise RejectedRow(f"missing critical fields: {', '.join(missing)}")

    season = _text(row, "SEASON")
    if not _SEASON.match(season):
        raise RejectedRow(f"SEASON must look like 2023-24, got {season!r}")
    season_type = SEASON_TYPES.get(_text(row, "SEASON_TYPE"))
    if season_type is None:
        raise RejectedRow(f"unknown SEASON_TYPE {_text(row, 'SEASON_TYPE')!r}")
    try:
        game_date = dt.date.fromisoformat(_text(row, "GAME_DATE")[:10])
    except ValueError:
        raise RejectedRow(f"GAME_DATE is not a date: {_text(row, 'GAME_DATE')!r}") from None

    team = _text(row, "TEAM_ABBREVIATION")
    match = _MATCHUP.match(_text(row, "MATCHUP"))
    if match is None:
        raise RejectedRow(f"MATCHUP not understood: {_text(row, 'MATCHUP')!r}")
    if match["team"] != team:
        raise RejectedRow(f"MATCHUP {match.string!r} does not start with team {team}")
    opponent, is_home = match["opp"], match["sep"] == "vs."
    if opponent == team:
        raise RejectedRow(f"MATCHUP {match.string!r} has the team playing itself")
    home, away = (team, opponent) if is_home else (opponent, team)

    try:
        minutes = _minutes(_text(row, "MIN"))
    except ValueError:
        raise RejectedRow(f"MIN not understood: {_text(row, 'MIN')!r}") from None
    if not 0 <= minutes <= MAX_MINUTES:
        raise RejectedRow(f"MIN out of range 0..{MAX_MINUTES}: {minutes}")

    player_id = _int(row, "PLAYER_ID", required=True)
    if player_id is None or player_id <= 0:
        raise RejectedRow(f"PLAYER_ID must be positive, got {player_id}")
    counts = {name: _int(row, name, required=True) for name in ("PTS", "REB", "AST")}
    extras = {field: _int(row, key, required=False) for key, field in _OPTIONAL_INTS.items()}
    negatives = [k for k, v in {**counts, **extras}.items() if v is not None and v < 0]
    if negatives:
        raise RejectedRow(f"negative stats: {', '.join(sorted(negatives))}")
    fgm, fg3m, ftm = extras["fgm"], extras["fg3m"], extras["ftm"]
    if fgm is not None and fg3m is not None and ftm is not None:
        expected = 2 * fgm + fg3m + ftm
        if counts["PTS"] != expected:
            raise RejectedRow(f"PTS {counts['PTS']} != 2*FGM + FG3M + FTM = {expected}")

    checksum = row_checksum(row)
    key = game_key(game_date, home, away)
    game = PlayerGameIngested(
        event_id=ids.event_id(source, key, player_id, checksum),
        source=source,
        season=season,
        season_type=season_type,
        game_id=_text(row, "GAME_ID") or None,
        game_key=key,
        game_date=game_date,
        player_id=player_id,
        player_name=_text(row, "PLAYER_NAME"),
        team=team,
        opponent=opponent,
        is_home=is_home,
        minutes=minutes,
        points=counts["PTS"] or 0,
        rebounds=counts["REB"] or 0,
        assists=counts["AST"] or 0,
        plus_minus=_int(row, "PLUS_MINUS", required=False),
        **extras,
    )
    return Normalised(game=game, checksum=checksum)
