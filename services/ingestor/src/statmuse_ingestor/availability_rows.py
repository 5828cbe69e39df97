"""Availability rows, pure: who is out for a team in a game.

A row is one absent player of one team in one game (GAME_KEY, GAME_ID, GAME_DATE, SEASON,
SEASON_TYPE, TEAM, OPPONENT, PLAYER_ID, PLAYER_NAME, STATUS, REASON, and optionally his recent
means for the team: RECENT_GAMES, RECENT_MIN, RECENT_PTS, RECENT_REB, RECENT_AST), or the team
alone with PLAYER_ID empty: the source names nobody for it. `normalise_availability` groups a
source's rows into one `AvailabilityReported` per team and game.

The files source's rows come from `absences_from_box_scores`, a stand-in for the NBA's
inactive list and injury report (public before tip-off) where the bundled seasons have none:
a team's rotation players, by recent minutes, who are missing from the game's box score. Where
it is wrong:
- a healthy scratch or a coach's decision (DNP-CD) is "out" like an injury;
- a player traded away is "out" for his old team until he appears for the new one;
- a long absence drops out of the rotation once he has too few appearances in the window,
  so the player is no longer listed after about `window - min_games` missed games;
- a player new to the team (a trade, a signing, a rookie's first games) has no rotation yet;
- each season starts with no rotation: the first games of a season list nobody;
- the real list is known before tip-off, including late scratches, which this one knows too.
No broker, no database: unit-tested on dicts and on the bundled data.
"""

import datetime as dt
import hashlib
import json
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from statmuse_ingestor.rows import RawRow
from statmuse_ingestor.service import RejectedRow, normalise_player_row, valid
from statmuse_shared.contract import ids
from statmuse_shared.contract.messages import Absence, AvailabilityReported, PlayerGameIngested

WINDOW = 10  # the team's last games that define its rotation
MIN_GAMES = 3  # appearances in them
MIN_MINUTES = 15.0  # mean minutes over those appearances


class Reported(NamedTuple):
    report: AvailabilityReported
    checksum: str  # of what the report says (not of who said it)


@dataclass(frozen=True, slots=True)
class _TeamGame:
    game: PlayerGameIngested  # any of the team's box scores of the game: which game it is
    players: dict[int, PlayerGameIngested]  # who played, by id


def _team_games(rows: Iterable[RawRow]) -> list[_TeamGame]:
    """The box scores grouped into team games, in date order; rows that are not a valid box
    score are left out (the box-score ingest rejects them)."""
    grouped: dict[tuple[str, str], dict[int, PlayerGameIngested]] = defaultdict(dict)
    for raw in rows:
        try:
            game = normalise_player_row(raw.record, source="files").game
        except RejectedRow:
            continue
        grouped[(game.game_key, game.team)][game.player_id] = game
    games = [_TeamGame(next(iter(p.values())), p) for p in grouped.values()]
    return sorted(games, key=lambda t: (t.game.game_date, t.game.game_key, t.game.team))


def absences_from_box_scores(
    rows: Iterable[RawRow],
    *,
    window: int = WINDOW,
    min_games: int = MIN_GAMES,
    min_minutes: float = MIN_MINUTES,
) -> Iterator[RawRow]:
    """One season's player box scores -> availability rows: for every team game, the rotation
    players (at least `min_games` of the team's last `window` games, at least `min_minutes` a
    game in them, last seen with this team) missing from its box score; the team alone when
    nobody is."""
    recent: dict[str, deque[_TeamGame]] = defaultdict(lambda: deque(maxlen=window))
    last_team: dict[int, tuple[dt.date, str]] = {}  # player -> (last day seen, with whom)
    by_day: dict[dt.date, list[_TeamGame]] = defaultdict(list)
    for team_game in _team_games(rows):
        by_day[team_game.game.game_date].append(team_game)
    for day in sorted(by_day):
        today = by_day[day]
        for team_game in today:
            g = team_game.game
            base = {
                "GAME_KEY": g.game_key,
                "GAME_ID": g.game_id or "",
                "GAME_DATE": g.game_date.isoformat(),
                "SEASON": g.season,
                "SEASON_TYPE": g.season_type,
                "TEAM": g.team,
                "OPPONENT": g.opponent,
            }
            location = f"box scores of {g.game_key} ({g.team})"
            out = _rotation_missing(recent[g.team], team_game, last_team, min_games, min_minutes)
            if not out:
                yield RawRow(location, base | {"PLAYER_ID": "", "PLAYER_NAME": ""})
            for missing in out:
                reason = (
                    f"not in the box score; rotation: {len(missing.boxes)} of the team's last "
                    f"{len(recent[g.team])} games, {missing.minutes:.1f} min"
                )
                yield RawRow(
                    location,
                    base
                    | {
                        "PLAYER_ID": str(missing.player_id),
                        "PLAYER_NAME": missing.boxes[-1].player_name,
                        "STATUS": "out",
                        "REASON": reason,
                    }
                    | _recent_columns(missing.boxes),
                )
        # Only once the whole day is out: a day's games do not see each other.
        for team_game in today:
            recent[team_game.game.team].append(team_game)
            for player_id in team_game.players:
                last_team[player_id] = (day, team_game.game.team)


class _Missing(NamedTuple):
    player_id: int
    boxes: list[PlayerGameIngested]  # his appearances in the window, in date order
    minutes: float  # their mean


def _recent_columns(boxes: list[PlayerGameIngested]) -> dict[str, str]:
    """A player's means over these box scores, as the RECENT_* columns."""
    n = len(boxes)
    return {
        "RECENT_GAMES": str(n),
        "RECENT_MIN": f"{sum(b.minutes for b in boxes) / n:.4f}",
        "RECENT_PTS": f"{sum(b.points for b in boxes) / n:.4f}",
        "RECENT_REB": f"{sum(b.rebounds for b in boxes) / n:.4f}",
        "RECENT_AST": f"{sum(b.assists for b in boxes) / n:.4f}",
    }


def _rotation_missing(
    recent: Iterable[_TeamGame],
    team_game: _TeamGame,
    last_team: Mapping[int, tuple[dt.date, str]],
    min_games: int,
    min_minutes: float,
) -> list[_Missing]:
    """The rotation players not playing, the most minutes first."""
    appearances: dict[int, list[PlayerGameIngested]] = defaultdict(list)
    for earlier in recent:
        if earlier.game.season != team_game.game.season:
            continue  # every season starts with no rotation
        for player_id, box in earlier.players.items():
            appearances[player_id].append(box)
    out = []
    for player_id, boxes in appearances.items():
        if player_id in team_game.players or len(boxes) < min_games:
            continue
        minutes = sum(b.minutes for b in boxes) / len(boxes)
        seen = last_team.get(player_id)
        if minutes < min_minutes or seen is None or seen[1] != team_game.game.team:
            continue  # not in the rotation, or last seen with another team
        out.append(_Missing(player_id, boxes, minutes))
    return sorted(out, key=lambda o: (-o.minutes, o.player_id))


def normalise_availability(
    rows: Iterable[RawRow], *, source: str
) -> tuple[list[Reported], list[tuple[RawRow, str]]]:
    """A source's rows as one report per (game, team), the players in the order given, and
    the rejected rows with the reason. A row that is not valid rejects its team's whole
    report (every row of it), since a list missing a name would say that player plays."""
    grouped: dict[tuple[str, str], list[RawRow]] = defaultdict(list)
    for raw in rows:
        grouped[(raw.record.get("GAME_KEY", ""), raw.record.get("TEAM", ""))].append(raw)
    reports: list[Reported] = []
    rejects: list[tuple[RawRow, str]] = []
    for group in grouped.values():
        try:
            reports.append(_report(group, source=source))
        except RejectedRow as exc:
            rejects.extend((raw, exc.reason) for raw in group)
    return reports, rejects


_RECENT = {
    "games": "RECENT_GAMES",
    "minutes": "RECENT_MIN",
    "points": "RECENT_PTS",
    "rebounds": "RECENT_REB",
    "assists": "RECENT_AST",
}


def _recent(record: Mapping[str, str], location: str) -> dict[str, float] | None:
    """The RECENT_* columns as RecentForm's fields: all of them or none (None)."""
    given = {field: record.get(column) or "" for field, column in _RECENT.items()}
    if not any(given.values()):
        return None
    missing = sorted(_RECENT[f] for f, v in given.items() if not v)
    if missing:
        raise RejectedRow(f"recent form without {', '.join(missing)} ({location})")
    try:
        return {f: int(v) if f == "games" else float(v) for f, v in given.items()}
    except ValueError:
        raise RejectedRow(f"recent form is not numbers: {given} ({location})") from None


def _report(group: list[RawRow], *, source: str) -> Reported:
    first = group[0].record
    absences = []
    for raw in group:
        record = raw.record
        if not record.get("PLAYER_ID"):
            continue
        if not record["PLAYER_ID"].isdigit():
            raise RejectedRow(
                f"PLAYER_ID is not a number: {record['PLAYER_ID']!r} ({raw.location})"
            )
        absences.append(
            valid(
                Absence,
                player_id=int(record["PLAYER_ID"]),
                player_name=record.get("PLAYER_NAME", ""),
                status=(record.get("STATUS") or "out").lower(),
                reason=record.get("REASON") or None,
                recent=_recent(record, raw.location),
            )
        )
    try:
        game_date = dt.date.fromisoformat(first.get("GAME_DATE", "")[:10])
    except ValueError:
        raise RejectedRow(f"GAME_DATE is not a date: {first.get('GAME_DATE')!r}") from None
    content = {
        "season": first.get("SEASON", ""),
        "season_type": first.get("SEASON_TYPE", ""),
        "game_id": first.get("GAME_ID") or None,
        "game_key": first.get("GAME_KEY", ""),
        "game_date": game_date,
        "team": first.get("TEAM", ""),
        "opponent": first.get("OPPONENT", ""),
        "absences": [a.model_dump() for a in absences],
    }
    canonical = json.dumps(content, default=str, sort_keys=True, separators=(",", ":"))
    checksum = hashlib.sha256(canonical.encode()).hexdigest()
    report = valid(
        AvailabilityReported,
        event_id=ids.event_id("availability", content["game_key"], content["team"], checksum),
        source=source,
        **content,
    )
    return Reported(report, checksum)
