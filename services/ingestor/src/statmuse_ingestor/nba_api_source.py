"""Live source: stats.nba.com's game logs through nba_api's endpoint classes, as RawRows.

The endpoint classes give the parameter names and values (`get_request=False`: nothing is
sent by nba_api); `nba_api_client.NbaStatsClient` sends each call, paced and retried, and this
module turns the answer's result set into one RawRow per box score. Lookups of players and
teams use nba_api's bundled static lists (offline).
"""

import datetime as dt
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from nba_api.stats.endpoints import leaguegamelog, playergamelog, scheduleleaguev2
from nba_api.stats.static import players, teams

from statmuse_ingestor.nba_api_client import (
    OUTCOMES,
    NbaStatsClient,
    RequestHook,
    SourcePayloadError,
    SourceRejected,
    SourceUnavailable,
    nba_api_transport,
)
from statmuse_ingestor.ratelimit import RetryPolicy, TokenBucket
from statmuse_ingestor.service import season_type_of_game
from statmuse_ingestor.sources import RawRow
from statmuse_shared.contract.seasons import season_start

__all__ = [
    "OUTCOMES",
    "SEASON_TYPES",
    "NbaApiSource",
    "PlayerInfo",
    "RequestHook",
    "SourcePayloadError",
    "SourceRejected",
    "SourceUnavailable",
    "TeamInfo",
]

SEASON_TYPES: tuple[str, ...] = ("Regular Season", "Playoffs", "PlayIn")
DEFAULT_MIN_INTERVAL_S = 0.6
DEFAULT_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class PlayerInfo:
    player_id: int
    full_name: str
    is_active: bool


@dataclass(frozen=True, slots=True)
class TeamInfo:
    team_id: int
    abbreviation: str
    full_name: str


@dataclass(frozen=True, slots=True)
class _Call:
    endpoint: Any  # an nba_api endpoint built with get_request=False
    result_set: str
    location: str
    season_type: str


class NbaApiSource:
    """Player and team game logs from stats.nba.com (LeagueGameLog, PlayerGameLog).

    Every HTTP call (`NbaStatsClient`) waits for the token bucket, is timed and reported to
    `on_request`, and is retried on time-outs, connection errors, 429 and 5xx. The row methods
    are generators: nothing is fetched until they are iterated, and each season type is
    fetched as its rows are needed.
    """

    name = "nba_api"

    def __init__(
        self,
        *,
        min_interval_s: float = DEFAULT_MIN_INTERVAL_S,
        bucket: TokenBucket | None = None,
        retry: RetryPolicy | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        season_types: tuple[str, ...] = SEASON_TYPES,
        on_request: RequestHook | None = None,
        proxy: str | None = None,
        headers: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        unknown = [t for t in season_types if t not in SEASON_TYPES]
        if unknown or not season_types:
            raise ValueError(f"season_types must be a non-empty subset of {SEASON_TYPES}")
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s!r}")
        self.timeout_s = timeout_s
        self.season_types = tuple(season_types)
        self.client = NbaStatsClient(
            bucket=bucket if bucket is not None else TokenBucket.every(min_interval_s),
            retry=retry if retry is not None else RetryPolicy(),
            timeout_s=timeout_s,
            on_request=on_request,
            transport=nba_api_transport(proxy, headers),
            sleep=sleep,
            clock=clock,
        )

    # -- rows ---------------------------------------------------------------------------------

    def player_rows(
        self, season: str, *, date_from: dt.date | None = None, date_to: dt.date | None = None
    ) -> Iterator[RawRow]:
        """One RawRow per player per game (LeagueGameLog, PlayerOrTeam=P), all season types."""
        return self._iter_rows(self._league_game_logs("P", season, date_from, date_to))

    def team_rows(
        self, season: str, *, date_from: dt.date | None = None, date_to: dt.date | None = None
    ) -> Iterator[RawRow]:
        """One RawRow per team per game (LeagueGameLog, PlayerOrTeam=T), all season types."""
        return self._iter_rows(self._league_game_logs("T", season, date_from, date_to))

    def schedule_rows(
        self, season: str, *, date_from: dt.date | None = None, date_to: dt.date | None = None
    ) -> Iterator[RawRow]:
        """The season's schedule (ScheduleLeagueV2, one call): one RawRow per regular-season,
        play-in, playoff or Cup-final game between the dates, with its status as the NBA
        gives it. Preseason and All-Star games are left out."""
        season_start(season)  # ValueError at the call site for a bad season
        endpoint = scheduleleaguev2.ScheduleLeagueV2(
            season=season, timeout=self.timeout_s, get_request=False
        )

        def rows() -> Iterator[RawRow]:
            games = self.client.fetch_payload(
                endpoint.endpoint, dict(endpoint.parameters), schedule_games
            )
            location = f"nba_api:scheduleleaguev2:{season}"
            for number, game in enumerate(games, start=1):
                record = _schedule_record(game, season)
                if season_type_of_game(record["GAME_ID"]) is None:
                    continue
                day = record["GAME_DATE"][:10]
                if (date_from and day < date_from.isoformat()) or (
                    date_to and day > date_to.isoformat()
                ):
                    continue
                yield RawRow(f"{location}:game {number}", record)

        return rows()

    def player_game_log(self, player_id: int | str, season: str) -> Iterator[RawRow]:
        """One player's games (PlayerGameLog), newest first within each season type.

        Its columns differ from LeagueGameLog's: `Player_ID`, `Game_ID`, and GAME_DATE as
        'Oct 24, 2023'.
        """
        season_start(season)  # ValueError at the call site for a bad season
        if not str(player_id).isdigit():
            raise ValueError(f"not a player id: {player_id!r}")
        # PlayerGameLog rows carry no name; the offline list supplies it for normalisation.
        info = self.lookup_player(int(player_id))
        calls = [
            _Call(
                playergamelog.PlayerGameLog(
                    player_id=player_id,
                    season=season,
                    season_type_all_star=season_type,
                    timeout=self.timeout_s,
                    get_request=False,
                ),
                "PlayerGameLog",
                f"nba_api:playergamelog:{player_id}:{season}:{season_type}",
                season_type,
            )
            for season_type in self.season_types
        ]
        extra = {"PLAYER_NAME": info.full_name} if info is not None else {}
        return self._iter_rows(calls, extra=extra)

    def _league_game_logs(
        self,
        player_or_team: str,
        season: str,
        date_from: dt.date | None,
        date_to: dt.date | None,
    ) -> list[_Call]:
        # Checked here, not in the generator, so bad arguments fail at the call site.
        season_start(season)  # ValueError at the call site for a bad season
        if date_from is not None and date_to is not None and date_to < date_from:
            raise ValueError(f"date_to {date_to} is before date_from {date_from}")
        return [
            _Call(
                leaguegamelog.LeagueGameLog(
                    player_or_team_abbreviation=player_or_team,
                    season=season,
                    season_type_all_star=season_type,
                    date_from_nullable=_nba_date(date_from),
                    date_to_nullable=_nba_date(date_to),
                    timeout=self.timeout_s,
                    get_request=False,
                ),
                "LeagueGameLog",
                f"nba_api:leaguegamelog:{player_or_team}:{season}:{season_type}",
                season_type,
            )
            for season_type in self.season_types
        ]

    def _iter_rows(
        self, calls: list[_Call], *, extra: Mapping[str, str] | None = None
    ) -> Iterator[RawRow]:
        for call in calls:
            endpoint = call.endpoint
            headers, row_set = self.client.fetch(
                endpoint.endpoint, dict(endpoint.parameters), call.result_set
            )
            for number, values in enumerate(row_set, start=1):
                record = {
                    h: "" if v is None else str(v) for h, v in zip(headers, values, strict=True)
                }
                record["SEASON_TYPE"] = call.season_type
                for column, value in (extra or {}).items():
                    record.setdefault(column, value)
                yield RawRow(f"{call.location}:row {number}", record)

    # -- lookups (offline: nba_api's bundled static lists) -------------------------------------

    def lookup_player(self, name_or_id: str | int) -> PlayerInfo | None:
        """By id, or by full name (case- and accent-insensitive). None when unknown; LookupError
        when a name fits several players and not exactly one of them is active."""
        if isinstance(name_or_id, int) or str(name_or_id).strip().isdigit():
            found = players.find_player_by_id(int(name_or_id))
            return _player_info(found) if found else None
        name = str(name_or_id).strip()
        if not name:
            raise ValueError("empty player name")
        matches = players.find_players_by_full_name(f"^{re.escape(name)}$")
        if len(matches) > 1:
            active = [m for m in matches if m["is_active"]]
            if len(active) != 1:
                ids = sorted(m["id"] for m in matches)
                raise LookupError(f"{name!r} is ambiguous: player ids {ids}")
            matches = active
        return _player_info(matches[0]) if matches else None

    def lookup_team(self, abbr: str) -> TeamInfo | None:
        """By current abbreviation ('DEN', case-insensitive); None when unknown."""
        abbr = abbr.strip().upper()
        if not abbr.isalpha():
            return None
        found = teams.find_team_by_abbreviation(abbr)
        if not found:
            return None
        return TeamInfo(int(found["id"]), str(found["abbreviation"]), str(found["full_name"]))


def schedule_games(payload: Any) -> list[dict[str, Any]]:
    """ScheduleLeagueV2's games, in its order (`leagueSchedule.gameDates[].games[]`), or
    SourcePayloadError saying what is off."""
    schedule = payload.get("leagueSchedule") if isinstance(payload, dict) else None
    if not isinstance(schedule, dict):
        keys = sorted(payload) if isinstance(payload, dict) else type(payload).__name__
        raise SourcePayloadError(f"payload has no 'leagueSchedule' object (found {keys})")
    dates = schedule.get("gameDates")
    if not isinstance(dates, list):
        raise SourcePayloadError("'leagueSchedule' has no 'gameDates' list")
    games: list[dict[str, Any]] = []
    for number, day in enumerate(dates, start=1):
        listed = day.get("games") if isinstance(day, dict) else None
        if not isinstance(listed, list) or not all(isinstance(g, dict) for g in listed):
            raise SourcePayloadError(f"gameDates entry {number} has no 'games' list of objects")
        games.extend(listed)
    return games


def _schedule_record(game: Mapping[str, Any], season: str) -> dict[str, str]:
    """One ScheduleLeagueV2 game in the schedule rows' columns (`schedule_rows`); what the
    game lacks is left empty, for validation to name."""

    def text(value: Any) -> str:
        return "" if value is None else str(value)

    def tricode(side: str) -> str:
        team = game.get(side)
        return text(team.get("teamTricode")) if isinstance(team, dict) else ""

    return {
        "GAME_ID": text(game.get("gameId")),
        # The US/Eastern date, as on the box scores (gameDateEst is that date at midnight).
        "GAME_DATE": text(game.get("gameDateEst"))[:10],
        "TIP_OFF": text(game.get("gameDateTimeUTC")),
        "HOME": tricode("homeTeam"),
        "AWAY": tricode("awayTeam"),
        "SEASON": season,
        "GAME_STATUS": text(game.get("gameStatus")),
        "GAME_STATUS_TEXT": text(game.get("gameStatusText")),
        "POSTPONED_STATUS": text(game.get("postponedStatus")),
    }


def _nba_date(day: dt.date | None) -> str:
    """nba_api's DateFrom/DateTo format, MM/DD/YYYY; '' leaves the bound open."""
    return "" if day is None else day.strftime("%m/%d/%Y")


def _player_info(found: Mapping[str, Any]) -> PlayerInfo:
    return PlayerInfo(int(found["id"]), str(found["full_name"]), bool(found["is_active"]))
