"""Live source: stats.nba.com through nba_api's endpoint classes, paced and retried.

nba_api itself never raises on an HTTP status: it keeps the body and status code and only fails
later, when the body does not parse. So the endpoint classes are used for their parameter names
(`get_request=False`) and the request is sent here, where the status can be seen and retried.
"""

import datetime as dt
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import requests
from nba_api.stats.endpoints import leaguegamelog, playergamelog
from nba_api.stats.library.http import NBAStatsHTTP, NBAStatsResponse
from nba_api.stats.static import players, teams

from statmuse_ingestor.ratelimit import RetryPolicy, TokenBucket
from statmuse_ingestor.sources import RawRow, SourceError
from statmuse_shared.contract.seasons import season_start

log = logging.getLogger(__name__)

SEASON_TYPES: tuple[str, ...] = ("Regular Season", "Playoffs", "PlayIn")
DEFAULT_MIN_INTERVAL_S = 0.6
DEFAULT_TIMEOUT_S = 30.0

# `on_request(endpoint, seconds, outcome)`, once per HTTP attempt. The outcomes are a closed set
# so they can be metric labels.
OUTCOMES: tuple[str, ...] = (
    "ok",
    "throttled",  # HTTP 429
    "server_error",  # HTTP 5xx
    "client_error",  # any other non-2xx status: not retried
    "timeout",
    "connection_error",
    "request_error",  # requests refused to send (bad URL, too many redirects): not retried
    "bad_payload",  # 2xx but not the JSON shape we read
)
RequestHook = Callable[[str, float, str], None]

_RETRYABLE_OUTCOMES = frozenset({"throttled", "server_error", "timeout", "connection_error"})
_BODY_SNIPPET = 200


class SourcePayloadError(SourceError):
    """stats.nba.com answered, but not with the JSON shape the endpoint should return."""


class SourceUnavailable(SourceError):
    """A request failed on every attempt (or failed in a way a retry cannot fix)."""

    def __init__(
        self,
        *,
        endpoint: str,
        parameters: Mapping[str, Any],
        attempts: int,
        last_error: str,
        status: int | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.parameters = dict(parameters)
        self.attempts = attempts
        self.last_error = last_error
        self.status = status
        super().__init__(
            f"nba_api {endpoint} ({_show(parameters)}) failed after {attempts} attempt"
            f"{'' if attempts == 1 else 's'}: {last_error}"
        )


class SourceRejected(SourceUnavailable):
    """A 4xx other than 429: the request itself is wrong, so it is not retried."""


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


class _StatusResponse(NBAStatsResponse):  # type: ignore[misc]  # nba_api is untyped
    """NBAStatsResponse keeps the status code only in a private attribute; keep our own."""

    def __init__(self, response: str, status_code: int | None, url: str | None) -> None:
        super().__init__(response=response, status_code=status_code, url=url)
        self.status_code = status_code


class _StatusHTTP(NBAStatsHTTP):  # type: ignore[misc]
    nba_response = _StatusResponse


@dataclass(frozen=True, slots=True)
class _Call:
    endpoint: Any  # an nba_api endpoint built with get_request=False
    result_set: str
    location: str
    season_type: str


@dataclass(frozen=True, slots=True)
class _Attempt:
    outcome: str
    error: str = ""
    status: int | None = None
    cause: BaseException | None = None
    headers: list[str] | None = None
    row_set: list[list[Any]] | None = None


class NbaApiSource:
    """Player and team game logs from stats.nba.com (LeagueGameLog, PlayerGameLog).

    Every HTTP call waits for the token bucket, is timed and reported to `on_request`, and is
    retried on time-outs, connection errors, 429 and 5xx. The row methods are generators: nothing
    is fetched until they are iterated, and each season type is fetched as its rows are needed.
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
        self.bucket = bucket if bucket is not None else TokenBucket.every(min_interval_s)
        self.retry = retry if retry is not None else RetryPolicy()
        self.timeout_s = timeout_s
        self.season_types = tuple(season_types)
        self._on_request = on_request
        # "" tells nba_api "no proxy" rather than falling back to the NBA_API_PROXY variable:
        # configuration comes from Settings, not from the environment.
        self._proxy = proxy or ""
        self._headers = dict(headers) if headers is not None else None
        self._sleep = sleep
        self._clock = clock

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
            headers, row_set = self._fetch(
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

    # -- HTTP ----------------------------------------------------------------------------------

    def _fetch(
        self, endpoint: str, parameters: dict[str, Any], result_set: str
    ) -> tuple[list[str], list[list[Any]]]:
        """Headers and rows of `result_set` from one endpoint call, after pacing and retries."""
        attempt_no = 0
        while True:
            attempt_no += 1
            self.bucket.acquire()
            attempt = self._attempt(endpoint, parameters, result_set)
            if attempt.headers is not None and attempt.row_set is not None:
                return attempt.headers, attempt.row_set
            if attempt.outcome == "bad_payload":
                raise SourcePayloadError(
                    f"nba_api {endpoint} ({_show(parameters)}): {attempt.error}"
                ) from attempt.cause
            retryable = attempt.outcome in _RETRYABLE_OUTCOMES
            if not retryable or not self.retry.should_retry(attempt_no):
                error_type = (
                    SourceRejected if attempt.outcome == "client_error" else SourceUnavailable
                )
                raise error_type(
                    endpoint=endpoint,
                    parameters=parameters,
                    attempts=attempt_no,
                    last_error=attempt.error if retryable else f"{attempt.error} (not retried)",
                    status=attempt.status,
                ) from attempt.cause
            delay = self.retry.delay(attempt_no)
            log.warning(
                "nba_api request failed; retrying",
                extra={
                    "endpoint": endpoint,
                    "attempt": attempt_no,
                    "outcome": attempt.outcome,
                    "error": attempt.error,
                    "retry_in_s": round(delay, 3),
                },
            )
            self._sleep(delay)

    def _attempt(self, endpoint: str, parameters: dict[str, Any], result_set: str) -> _Attempt:
        started = self._clock()
        attempt = self._send(endpoint, parameters, result_set)
        self._report(endpoint, self._clock() - started, attempt.outcome)
        return attempt

    def _send(self, endpoint: str, parameters: dict[str, Any], result_set: str) -> _Attempt:
        try:
            # A new client per call: send_api_request stores the parameters on the instance.
            response = _StatusHTTP().send_api_request(
                endpoint=endpoint,
                parameters=parameters,
                proxy=self._proxy,
                headers=self._headers,
                timeout=self.timeout_s,
            )
        except requests.Timeout as exc:  # before ConnectionError: ConnectTimeout is both
            return _Attempt("timeout", f"timed out (timeout {self.timeout_s:g}s): {exc}", cause=exc)
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            return _Attempt("connection_error", f"connection error: {exc}", cause=exc)
        except requests.RequestException as exc:
            return _Attempt("request_error", f"{type(exc).__name__}: {exc}", cause=exc)

        status: int | None = response.status_code
        body: str = response.get_response() or ""
        if status is not None and not 200 <= status < 300:
            snippet = " ".join(body[:_BODY_SNIPPET].split())
            error = f"HTTP {status}" + (f": {snippet}" if snippet else "")
            if status == 429:
                return _Attempt("throttled", error, status)
            if status >= 500:
                return _Attempt("server_error", error, status)
            return _Attempt("client_error", error, status)
        try:
            payload = response.get_dict()
        except ValueError as exc:
            snippet = " ".join(body[:_BODY_SNIPPET].split()) or "(empty body)"
            return _Attempt("bad_payload", f"response is not JSON: {snippet!r}", status, exc)
        try:
            headers, row_set = _result_set(payload, result_set)
        except SourcePayloadError as exc:
            return _Attempt("bad_payload", str(exc), status)
        return _Attempt("ok", status=status, headers=headers, row_set=row_set)

    def _report(self, endpoint: str, seconds: float, outcome: str) -> None:
        if self._on_request is None:
            return
        try:
            self._on_request(endpoint, seconds, outcome)
        except Exception:  # a broken metrics hook must not stop ingestion
            log.exception("on_request hook failed", extra={"endpoint": endpoint})


def _result_set(payload: Any, name: str) -> tuple[list[str], list[list[Any]]]:
    """Headers and rows of the result set `name`, or SourcePayloadError saying what is off."""
    if not isinstance(payload, dict):
        raise SourcePayloadError(f"expected a JSON object, got {type(payload).__name__}")
    result_sets = payload.get("resultSets")
    if not isinstance(result_sets, list):
        raise SourcePayloadError(
            f"payload has no 'resultSets' list (top-level keys: {sorted(payload)})"
        )
    chosen = next((r for r in result_sets if isinstance(r, dict) and r.get("name") == name), None)
    if chosen is None:
        names = [r.get("name") for r in result_sets if isinstance(r, dict)]
        raise SourcePayloadError(f"no result set named {name!r} in 'resultSets' (found {names})")
    headers = chosen.get("headers")
    if not isinstance(headers, list) or not all(isinstance(h, str) for h in headers):
        raise SourcePayloadError(f"result set {name!r} has no 'headers' list of column names")
    row_set = chosen.get("rowSet")
    if not isinstance(row_set, list):
        raise SourcePayloadError(f"result set {name!r} has no 'rowSet' list")
    for number, values in enumerate(row_set, start=1):
        if not isinstance(values, list) or len(values) != len(headers):
            width = len(values) if isinstance(values, list) else type(values).__name__
            raise SourcePayloadError(
                f"result set {name!r} row {number} has {width} values for {len(headers)} headers"
            )
    return headers, row_set


def _nba_date(day: dt.date | None) -> str:
    """nba_api's DateFrom/DateTo format, MM/DD/YYYY; '' leaves the bound open."""
    return "" if day is None else day.strftime("%m/%d/%Y")


def _show(parameters: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in sorted(parameters.items()))


def _player_info(found: Mapping[str, Any]) -> PlayerInfo:
    return PlayerInfo(int(found["id"]), str(found["full_name"]), bool(found["is_active"]))
