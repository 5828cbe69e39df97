"""Pure ingest logic: normalise a source row into a player or team box score, or say why not
(outlier flags, which need the player's history, are in `outliers`).

No broker, no database: everything here is unit-tested on plain dicts.
"""

import contextlib
import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from statmuse_shared.contract import ids
from statmuse_shared.contract.messages import PlayerGameIngested, TeamGameIngested

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
M = TypeVar("M", bound=BaseModel)
MAX_MINUTES = 65
MAX_TEAM_MINUTES = 5 * MAX_MINUTES + 90  # five players' worth, many overtimes included


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


def valid(model: type[M], **fields: Any) -> M:
    """The message, or the row rejected with the fields that broke its schema: the checks
    above should catch everything first, this keeps a missed case a reject, not a crash."""
    try:
        return model(**fields)
    except ValidationError as exc:
        broken = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise RejectedRow(f"invalid {model.__name__}: {broken}") from None


def row_checksum(row: Mapping[str, object]) -> str:
    """sha256 of the record as received (keys sorted, values as stripped text)."""
    canonical = json.dumps(
        {k: "" if v is None else str(v).strip() for k, v in sorted(row.items())},
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def game_key(game_date: dt.date, home: str, away: str) -> str:
    """The natural game key. (date, home, away) exists in every source; GAME_ID does not."""
    return f"{game_date.isoformat()}:{away}@{home}"


@dataclass(frozen=True, slots=True)
class GameSide:
    """What a player row and a team row share: which game, whose side."""

    season: str
    season_type: str
    game_id: str | None
    game_date: dt.date
    team: str
    opponent: str
    is_home: bool
    key: str


_SEASON_ID_TYPES = {"2": "Regular Season", "4": "Playoffs", "5": "Play-In", "6": "Cup Final"}
_GAME_ID_TYPES = {"002": "Regular Season", "004": "Playoffs", "005": "Play-In", "006": "Cup Final"}


def season_type_of_game(game_id: str) -> str | None:
    """The season type a GAME_ID's prefix names (002 regular season, 004 playoffs, 005
    play-in, 006 the NBA Cup final); None for the others (preseason, All-Star)."""
    return _GAME_ID_TYPES.get(game_id[:3])


def _season(row: Mapping[str, object]) -> str:
    season = _text(row, "SEASON")
    season_id = _text(row, "SEASON_ID")
    if not season and len(season_id) == 5 and season_id.isdigit():
        year = int(season_id[1:])
        season = f"{year}-{(year + 1) % 100:02d}"
    if not _SEASON.match(season):
        raise RejectedRow(f"SEASON must look like 2023-24, got {season!r}")
    return season


def _season_type(row: Mapping[str, object]) -> str:
    """SEASON_TYPE when given; else GAME_ID's prefix; else SEASON_ID's first digit."""
    given = _text(row, "SEASON_TYPE")
    if given:
        known = SEASON_TYPES.get(given)
        if known is None:
            raise RejectedRow(f"unknown SEASON_TYPE {given!r}")
        game_id = _text(row, "GAME_ID")
        # The NBA Cup final is logged as a regular-season game but does not count as one.
        return "Cup Final" if game_id.startswith("006") else known
    by_game = season_type_of_game(_text(row, "GAME_ID"))
    by_season = _SEASON_ID_TYPES.get(_text(row, "SEASON_ID")[:1])
    found = by_game or by_season
    if found is None:
        raise RejectedRow("season type unknown: no SEASON_TYPE, GAME_ID or SEASON_ID")
    return found


def game_side(row: Mapping[str, object]) -> GameSide:
    """Which game a (canonical) box-score row is of, and whose side; RejectedRow if unclear."""
    season, season_type = _season(row), _season_type(row)
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
    return GameSide(
        season,
        season_type,
        _text(row, "GAME_ID") or None,
        game_date,
        team,
        opponent,
        is_home,
        game_key(game_date, home, away),
    )


def _box(row: Mapping[str, object], required: tuple[str, ...]) -> dict[str, int | None]:
    """Whole-number stats by source column; negatives and a PTS that does not add up rejected."""
    counts = {name: _int(row, name, required=True) for name in required}
    extras = {key: _int(row, key, required=False) for key in _OPTIONAL_INTS}
    box = {**extras, **counts}
    negatives = [k for k, v in box.items() if v is not None and v < 0]
    if negatives:
        raise RejectedRow(f"negative stats: {', '.join(sorted(negatives))}")
    fgm, fg3m, ftm = box["FGM"], box["FG3M"], box["FTM"]
    if fgm is not None and fg3m is not None and ftm is not None:
        expected = 2 * fgm + fg3m + ftm
        if box["PTS"] != expected:
            raise RejectedRow(f"PTS {box['PTS']} != 2*FGM + FG3M + FTM = {expected}")
    return box


def _plus_minus(row: Mapping[str, object]) -> int | None:
    return _int(row, "PLUS_MINUS", required=False)


# PlayerGameLog spells some columns differently from LeagueGameLog and the bundled files.
_ALIASES = {"Player_ID": "PLAYER_ID", "Game_ID": "GAME_ID"}


def canonical(row: Mapping[str, object]) -> Mapping[str, object]:
    """LeagueGameLog's column names and ISO dates, whatever the endpoint said."""
    if not any(k in row for k in _ALIASES) and "TEAM_ABBREVIATION" in row:
        return row
    out = {_ALIASES.get(k, k): v for k, v in row.items()}
    day = _text(out, "GAME_DATE")
    if day and not day[:4].isdigit():
        with contextlib.suppress(ValueError):  # 'Oct 24, 2023'; a bad date fails later
            out["GAME_DATE"] = dt.datetime.strptime(day, "%b %d, %Y").date().isoformat()
    if not _text(out, "TEAM_ABBREVIATION"):
        out["TEAM_ABBREVIATION"] = _text(out, "MATCHUP").split(" ")[0]
    return out


def normalise_player_row(
    row: Mapping[str, object], *, source: str, checksum: str | None = None
) -> Normalised:
    """`checksum` of the record as received, when the caller has it already."""
    checksum = checksum or row_checksum(row)
    row = canonical(row)
    missing = [k for k in CRITICAL if not _text(row, k)]
    if "SEASON" in missing and _text(row, "SEASON_ID"):
        missing.remove("SEASON")
    if "SEASON_TYPE" in missing and (_text(row, "SEASON_ID") or _text(row, "GAME_ID")):
        missing.remove("SEASON_TYPE")
    if missing:
        raise RejectedRow(f"missing critical fields: {', '.join(missing)}")
    g = game_side(row)
    try:
        minutes = _minutes(_text(row, "MIN"))
    except ValueError:
        raise RejectedRow(f"MIN not understood: {_text(row, 'MIN')!r}") from None
    if not 0 <= minutes <= MAX_MINUTES:
        raise RejectedRow(f"MIN out of range 0..{MAX_MINUTES}: {minutes}")
    player_id = _int(row, "PLAYER_ID", required=True)
    if player_id is None or player_id <= 0:
        raise RejectedRow(f"PLAYER_ID must be positive, got {player_id}")
    box = _box(row, ("PTS", "REB", "AST"))

    game = valid(
        PlayerGameIngested,
        event_id=ids.event_id(source, g.key, player_id, checksum),
        source=source,
        season=g.season,
        season_type=g.season_type,  # checked by _season_type
        game_id=g.game_id,
        game_key=g.key,
        game_date=g.game_date,
        player_id=player_id,
        player_name=_text(row, "PLAYER_NAME"),
        team=g.team,
        opponent=g.opponent,
        is_home=g.is_home,
        minutes=minutes,
        points=box["PTS"] or 0,
        rebounds=box["REB"] or 0,
        assists=box["AST"] or 0,
        plus_minus=_plus_minus(row),
        **{field: box[key] for key, field in _OPTIONAL_INTS.items()},
    )
    return Normalised(game=game, checksum=checksum)


TEAM_CRITICAL = ("GAME_DATE", "TEAM_ABBREVIATION", "MATCHUP", "PTS")


@dataclass(frozen=True, slots=True)
class NormalisedTeam:
    game: TeamGameIngested
    checksum: str


def normalise_team_row(
    row: Mapping[str, object], *, source: str, checksum: str | None = None
) -> NormalisedTeam:
    missing = [k for k in TEAM_CRITICAL if not _text(row, k)]
    if not (_text(row, "SEASON") or _text(row, "SEASON_ID")):
        missing.append("SEASON")
    if missing:
        raise RejectedRow(f"missing critical fields: {', '.join(missing)}")
    g = game_side(row)
    box = _box(row, ("PTS",))
    extra = {k: _int(row, k, required=False) for k in ("REB", "AST", "PF")}
    if any(v is not None and v < 0 for v in extra.values()):
        raise RejectedRow("negative stats: REB/AST/PF")
    # A broken PLUS_MINUS (the source has 33.8 for one 2020 playoff game) costs only that
    # field: the box score is kept and flagged, the opponent's points come from its own row.
    issue = None
    try:
        plus_minus = _plus_minus(row)
    except RejectedRow as exc:
        plus_minus, issue = None, exc.reason
    points = box["PTS"] or 0
    opponent_points = None if plus_minus is None else points - plus_minus
    if opponent_points is not None and opponent_points < 0:
        raise RejectedRow(f"PLUS_MINUS {plus_minus} gives negative opponent points")
    minutes_text = _text(row, "MIN")
    try:
        minutes = _minutes(minutes_text) if minutes_text else None
    except ValueError:
        raise RejectedRow(f"MIN not understood: {minutes_text!r}") from None
    if minutes is not None and not 0 <= minutes <= MAX_TEAM_MINUTES:
        raise RejectedRow(f"MIN out of range 0..{MAX_TEAM_MINUTES}: {minutes}")
    team_id = _int(row, "TEAM_ID", required=False)
    wl = _text(row, "WL")
    checksum = checksum or row_checksum(row)
    game = valid(
        TeamGameIngested,
        event_id=ids.event_id(source, g.key, g.team, checksum),
        source=source,
        season=g.season,
        season_type=g.season_type,  # checked by _season_type
        game_id=g.game_id,
        game_key=g.key,
        game_date=g.game_date,
        team=g.team,
        team_id=team_id,
        opponent=g.opponent,
        is_home=g.is_home,
        won={"W": True, "L": False}.get(wl),
        minutes=minutes,
        points=points,
        opponent_points=opponent_points,
        fgm=box["FGM"],
        fga=box["FGA"],
        fg3m=box["FG3M"],
        fg3a=box["FG3A"],
        ftm=box["FTM"],
        fta=box["FTA"],
        oreb=box["OREB"],
        dreb=box["DREB"],
        rebounds=extra["REB"],
        assists=extra["AST"],
        steals=box["STL"],
        blocks=box["BLK"],
        tov=box["TOV"],
        fouls=extra["PF"],
        plus_minus=plus_minus,
        flagged=issue is not None,
        flag_reason=issue,
    )
    return NormalisedTeam(game=game, checksum=checksum)
