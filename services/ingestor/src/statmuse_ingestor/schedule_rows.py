"""Schedule rows, pure: a row as the `GameScheduled` it becomes (`normalise_schedule_row`), and
the schedule a season's box scores imply (`from_box_scores`, the files source's).

A row's columns: GAME_ID, GAME_DATE, TIP_OFF, HOME, AWAY, SEASON, SEASON_TYPE, STATUS (ours:
scheduled, postponed, cancelled, final) or nba_api's own GAME_STATUS (1 scheduled, 2 live, 3
final), GAME_STATUS_TEXT and POSTPONED_STATUS. No broker, no database: unit-tested on dicts.
"""

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import NamedTuple

from statmuse_ingestor.rows import RawRow
from statmuse_ingestor.service import (
    RejectedRow,
    canonical,
    game_key,
    game_side,
    season_type_of_game,
    valid,
)
from statmuse_shared.contract import ids
from statmuse_shared.contract.messages import GameScheduled
from statmuse_shared.contract.seasons import season_of


class ScheduledGame(NamedTuple):
    game: GameScheduled
    checksum: str  # of what the game says (not of who said it), so a new source of the
    # same schedule changes nothing


def _text(row: Mapping[str, str], key: str) -> str:
    return (row.get(key) or "").strip()


def _status(row: Mapping[str, str]) -> str:
    ours = _text(row, "STATUS").lower()
    if ours:
        if ours not in ("scheduled", "postponed", "cancelled", "final"):
            raise RejectedRow(f"STATUS must be scheduled, postponed, cancelled or final: {ours!r}")
        return ours
    text = _text(row, "GAME_STATUS_TEXT").upper()
    postponed = _text(row, "POSTPONED_STATUS").upper()
    if "PPD" in text or "POSTPONED" in text or postponed == "P":
        return "postponed"
    if "CANCEL" in text or postponed == "C":
        return "cancelled"
    code = _text(row, "GAME_STATUS")
    if code == "3":
        return "final"
    if code in ("1", "2", ""):
        return "scheduled"  # "2" is being played: not final yet
    raise RejectedRow(f"GAME_STATUS not understood: {code!r}")


def _tip_off(row: Mapping[str, str]) -> dt.datetime | None:
    text = _text(row, "TIP_OFF")
    if not text:
        return None
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise RejectedRow(f"TIP_OFF is not a date and time: {text!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def normalise_schedule_row(row: Mapping[str, str], *, source: str) -> ScheduledGame:
    """A schedule row as the message it becomes, or RejectedRow with the reason."""
    missing = [k for k in ("GAME_ID", "GAME_DATE", "HOME", "AWAY") if not _text(row, k)]
    if missing:
        raise RejectedRow(f"missing critical fields: {', '.join(missing)}")
    if _text(row, "CONFLICT"):
        raise RejectedRow(_text(row, "CONFLICT"))
    game_id = _text(row, "GAME_ID")
    try:
        game_date = dt.date.fromisoformat(_text(row, "GAME_DATE")[:10])
    except ValueError:
        raise RejectedRow(f"GAME_DATE is not a date: {_text(row, 'GAME_DATE')!r}") from None
    season_type = _text(row, "SEASON_TYPE") or season_type_of_game(game_id)
    if season_type is None:
        raise RejectedRow(f"GAME_ID {game_id!r} is not a regular-season, play-in or playoff game")
    home, away = _text(row, "HOME").upper(), _text(row, "AWAY").upper()
    if home == away:
        raise RejectedRow(f"{home} cannot play itself")
    content = {
        "season": _text(row, "SEASON") or season_of(game_date),
        "season_type": season_type,
        "game_id": game_id,
        "game_key": game_key(game_date, home, away),
        "game_date": game_date,
        "tip_off": _tip_off(row),
        "home": home,
        "away": away,
        "status": _status(row),
    }
    canonical_content = json.dumps(content, default=str, sort_keys=True, separators=(",", ":"))
    checksum = hashlib.sha256(canonical_content.encode()).hexdigest()
    game = valid(
        GameScheduled,
        event_id=ids.event_id("schedule", game_id, checksum),
        source=source,
        **content,
    )
    return ScheduledGame(game, checksum)


def from_box_scores(rows: Iterable[RawRow]) -> Iterator[RawRow]:
    """The schedule a season's box scores imply: one row per GAME_ID, in date order, at the
    location of its first box score. Rows that cannot say which game they are of are left
    out (the box-score ingest rejects them); two rows of one game that disagree make a row
    that is rejected with both versions."""
    games: dict[str, tuple[str, dict[str, str]]] = {}
    for raw in rows:
        try:
            side = game_side(canonical(raw.record))
        except RejectedRow:
            continue
        if side.game_id is None:
            continue
        home, away = (side.team, side.opponent) if side.is_home else (side.opponent, side.team)
        record = {
            "GAME_ID": side.game_id,
            "GAME_DATE": side.game_date.isoformat(),
            "HOME": home,
            "AWAY": away,
            "SEASON": side.season,
            "SEASON_TYPE": side.season_type,
            "STATUS": "scheduled",
        }
        seen = games.get(side.game_id)
        if seen is None:
            games[side.game_id] = (raw.location, record)
        elif seen[1] != record and "CONFLICT" not in seen[1]:
            said = f"{seen[1]['GAME_DATE']} {seen[1]['AWAY']}@{seen[1]['HOME']}"
            says = f"{record['GAME_DATE']} {away}@{home}"
            conflict = (
                f"box scores of {side.game_id} disagree: {said} ({seen[0]}), "
                f"{says} ({raw.location})"
            )
            games[side.game_id] = (seen[0], {**seen[1], "CONFLICT": conflict})
    ordered = sorted(games.items(), key=lambda item: (item[1][1]["GAME_DATE"], item[0]))
    for _, (location, record) in ordered:
        yield RawRow(location, record)
