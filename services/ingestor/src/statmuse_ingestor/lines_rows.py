"""Prop-line rows, pure: a book's line as the `PropLinePosted` it becomes, or why not.

A row has the bundled `prop_lines` columns (The Odds API's data, flattened): game_date,
commence_time, event_id, home_team, away_team (full team names), player_name, market
(points|rebounds|assists|threes|pra), bookmaker, line, over_odds, under_odds (American), and
from the live client also last_update. The player is matched by name (accents, punctuation,
suffixes and known nicknames aside) among the players whose box scores the ingestor holds,
preferring one of the game's two teams when a name is shared. No broker, no database.
"""

import datetime as dt
import hashlib
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from nba_api.stats.static import teams

from statmuse_ingestor.service import RejectedRow, game_key, valid
from statmuse_shared.contract import ids
from statmuse_shared.contract.books import american_odds, canonical_book
from statmuse_shared.contract.messages import PropLinePosted
from statmuse_shared.contract.names import normalize_name
from statmuse_shared.contract.stats import Stat

# The Odds API names teams in full; some sources use the older or shorter names.
_TEAM_NAMES = {t["full_name"].lower(): t["abbreviation"] for t in teams.get_teams()} | {
    "la clippers": "LAC",
    "los angeles clippers": "LAC",
}


class PostedLine(NamedTuple):
    line: PropLinePosted
    checksum: str  # of what the line says (not of who relayed it)


class Roster(NamedTuple):
    """A player the ingestor knows: id and the team of his latest box score."""

    player_id: int
    team: str


def rosters(players: Iterable[tuple[int, str, str]]) -> dict[str, list[Roster]]:
    """(player id, name, last team) -> the players by normalised name."""
    by_name: dict[str, list[Roster]] = defaultdict(list)
    for player_id, name, team in players:
        by_name[normalize_name(name)].append(Roster(player_id, team))
    return dict(by_name)


def match_player(name: str, home: str, away: str, known: Mapping[str, list[Roster]]) -> int | None:
    """The player a book's name is: the only one with that name, or the only one of them
    last seen with one of the game's teams; None when there is no such one."""
    candidates = known.get(normalize_name(name), [])
    if len(candidates) == 1:
        return candidates[0].player_id
    playing = [c for c in candidates if c.team in (home, away)]
    return playing[0].player_id if len(playing) == 1 else None


def team_abbreviation(full_name: str) -> str | None:
    return _TEAM_NAMES.get(full_name.strip().lower())


def _time(text: str, column: str) -> dt.datetime | None:
    if not text.strip():
        return None
    try:
        when = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise RejectedRow(f"{column} is not a date and time: {text!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def normalise_line_row(
    row: Mapping[str, str], *, source: str, known: Mapping[str, list[Roster]]
) -> PostedLine:
    """A line row as the message it becomes, or RejectedRow with the reason."""
    required = ("game_date", "event_id", "home_team", "away_team", "player_name", "market")
    missing = [c for c in (*required, "bookmaker", "line", "over_odds") if not row.get(c)]
    if missing:
        raise RejectedRow(f"missing critical fields: {', '.join(missing)}")
    try:
        stat = Stat(row["market"].strip().lower())
    except ValueError:
        raise RejectedRow(f"unknown market {row['market']!r}") from None
    try:
        game_date = dt.date.fromisoformat(row["game_date"][:10])
    except ValueError:
        raise RejectedRow(f"game_date is not a date: {row['game_date']!r}") from None
    home, away = team_abbreviation(row["home_team"]), team_abbreviation(row["away_team"])
    if home is None or away is None:
        unknown = row["home_team"] if home is None else row["away_team"]
        raise RejectedRow(f"unknown team {unknown!r}")
    try:
        line = float(row["line"])
    except ValueError:
        raise RejectedRow(f"line is not a number: {row['line']!r}") from None
    if not math.isfinite(line) or not 0 <= line <= 200:
        raise RejectedRow(f"line out of range 0..200: {row['line']!r}")
    over = american_odds(row["over_odds"])
    if over is None:
        raise RejectedRow(f"over_odds are not American odds: {row['over_odds']!r}")
    under = american_odds(row.get("under_odds") or "")
    if (row.get("under_odds") or "").strip() and under is None:
        raise RejectedRow(f"under_odds are not American odds: {row['under_odds']!r}")
    content = {
        "odds_event_id": row["event_id"].strip(),
        "game_date": game_date,
        "commence_time": _time(row.get("commence_time") or "", "commence_time"),
        "home": home,
        "away": away,
        "game_key": game_key(game_date, home, away),
        "player_name": row["player_name"].strip(),
        "player_id": match_player(row["player_name"], home, away, known),
        "stat": stat,
        "book": canonical_book(row["bookmaker"]),
        "line": line,
        "over_price": over,
        "under_price": under,
        "captured_at": _time(row.get("last_update") or "", "last_update"),
    }
    canonical = json.dumps(content, default=str, sort_keys=True, separators=(",", ":"))
    checksum = hashlib.sha256(canonical.encode()).hexdigest()
    posted = valid(
        PropLinePosted,
        event_id=ids.event_id("line", checksum),
        source=source,
        **content,
    )
    return PostedLine(posted, checksum)


def line_key(line: PropLinePosted) -> str:
    """The feed's key: one line per odds event, player, stat and book."""
    return f"{line.odds_event_id}:{normalize_name(line.player_name)}:{line.stat}:{line.book}"
