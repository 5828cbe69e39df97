"""The HTTP side of the live sources: one endpoint call, paced, timed, retried.

`NbaStatsClient` sends what it is given through a transport: `nba_api_transport` for
stats.nba.com, `requests_transport` for any JSON API over plain GET (The Odds API). nba_api
itself never raises on an HTTP status: it keeps the body and status code and only fails later,
when the body does not parse. So the endpoint classes are used for their parameter names
(`get_request=False`, in `nba_api_source`) and the request is sent here, where the status can
be seen and retried. Retries are tenacity's (`RetryPolicy` in `ratelimit`); each attempt first
waits for the pacer, so retries are paced too.
"""

import dataclasses
import itertools
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from nba_api.stats.library.http import NBAStatsHTTP, NBAStatsResponse
from tenacity import RetryCallState, Retrying, retry_if_result

from statmuse_ingestor.ratelimit import RetryPolicy, TokenBucket
from statmuse_ingestor.sources import SourceError

# The live source's logger, named as before the client had a module of its own, so log queries
# on it keep working.
log = logging.getLogger("statmuse_ingestor.nba_api_source")

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

T = TypeVar("T")
# Reads the endpoint's JSON answer into what the caller wants; raises SourcePayloadError saying
# what is off when the answer does not have the expected shape.
PayloadReader = Callable[[Any], T]

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
        source: str = "nba_api",
    ) -> None:
        self.endpoint = endpoint
        self.parameters = dict(parameters)
        self.attempts = attempts
        self.last_error = last_error
        self.status = status
        super().__init__(
            f"{source} {endpoint} ({show(parameters)}) failed after {attempts} attempt"
            f"{'' if attempts == 1 else 's'}: {last_error}"
        )


class SourceRejected(SourceUnavailable):
    """A 4xx other than 429: the request itself is wrong, so it is not retried."""


class _StatusResponse(NBAStatsResponse):  # type: ignore[misc]  # nba_api is untyped
    """NBAStatsResponse keeps the status code only in a private attribute; keep our own."""

    def __init__(self, response: str, status_code: int | None, url: str | None) -> None:
        super().__init__(response=response, status_code=status_code, url=url)
        self.status_code = status_code


class _StatusHTTP(NBAStatsHTTP):  # type: ignore[misc]
    nba_response = _StatusResponse


# `transport(endpoint, parameters, timeout_s)` -> (HTTP status, body): sends one request and
# raises requests' exceptions for what never got an answer.
Transport = Callable[[str, dict[str, Any], float], tuple[int | None, str]]


def nba_api_transport(
    proxy: str | None = None, headers: Mapping[str, str] | None = None
) -> Transport:
    """stats.nba.com through nba_api's own HTTP client (its headers, its URL building)."""
    # "" tells nba_api "no proxy" rather than falling back to the NBA_API_PROXY variable:
    # configuration comes from Settings, not from the environment.
    chosen_proxy = proxy or ""
    chosen_headers = dict(headers) if headers is not None else None

    def send(endpoint: str, parameters: dict[str, Any], timeout_s: float) -> tuple[int | None, str]:
        # A new client per call: send_api_request stores the parameters on the instance.
        response = _StatusHTTP().send_api_request(
            endpoint=endpoint,
            parameters=parameters,
            proxy=chosen_proxy,
            headers=chosen_headers,
            timeout=timeout_s,
        )
        return response.status_code, response.get_response() or ""

    return send


def requests_transport(base_url: str, session: requests.Session | None = None) -> Transport:
    """GET `base_url` + endpoint with the parameters as the query string."""
    http = session or requests.Session()

    def send(endpoint: str, parameters: dict[str, Any], timeout_s: float) -> tuple[int | None, str]:
        response = http.get(f"{base_url}{endpoint}", params=parameters, timeout=timeout_s)
        return response.status_code, response.text

    return send


@dataclass(frozen=True, slots=True)
class _Attempt:
    outcome: str
    error: str = ""
    status: int | None = None
    cause: BaseException | None = None
    value: Any = None  # what the reader made of a good answer (outcome "ok")


# What one paced attempt returns to tenacity: its number (1-based) and how it went.
_Numbered = tuple[int, _Attempt]


def _should_retry(result: _Numbered) -> bool:
    return result[1].outcome in _RETRYABLE_OUTCOMES


def _log_retry(state: RetryCallState) -> None:
    """Before each backoff sleep: which attempt failed, how, and the wait chosen."""
    assert state.outcome is not None  # tenacity sleeps only after an attempt
    number, failed = state.outcome.result()
    log.warning(
        "nba_api request failed; retrying",
        extra={
            "endpoint": state.args[0],
            "attempt": number,
            "outcome": failed.outcome,
            "error": failed.error,
            "retry_in_s": round(state.upcoming_sleep, 3),
        },
    )


def _last_attempt(state: RetryCallState) -> _Numbered:
    """When the attempts run out, the last one is the answer (raised as SourceUnavailable)."""
    assert state.outcome is not None
    result: _Numbered = state.outcome.result()
    return result


class NbaStatsClient:
    """Sends one endpoint call: waits for the pacer, times and reports the attempt to
    `on_request`, and retries time-outs, connection errors, 429 and 5xx with the policy's
    backoff (slept with `sleep`). Thread-safe: the ingest runs sources in worker threads."""

    def __init__(
        self,
        *,
        bucket: TokenBucket,
        retry: RetryPolicy,
        timeout_s: float,
        on_request: RequestHook | None = None,
        transport: Transport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.perf_counter,
        source: str = "nba_api",
        secrets: tuple[str, ...] = (),
    ) -> None:
        self.bucket = bucket
        self.retry = retry
        self.timeout_s = timeout_s
        self._on_request = on_request
        self._transport = transport if transport is not None else nba_api_transport()
        self.source = source  # how errors name it
        self._secrets = tuple(x for x in secrets if x)  # never shown in errors or logs (a key)
        self._clock = clock
        # One controller for every call: tenacity keeps a call's state in the call (and its
        # statistics per thread), so calls from several threads do not mix.
        self._retrying = Retrying(
            stop=retry.stop,
            wait=retry.wait,
            retry=retry_if_result(_should_retry),
            before_sleep=_log_retry,
            sleep=sleep,
            retry_error_callback=_last_attempt,
        )

    def fetch(
        self, endpoint: str, parameters: dict[str, Any], result_set: str
    ) -> tuple[list[str], list[list[Any]]]:
        """Headers and rows of `result_set` from one endpoint call, after pacing and retries."""
        return self.fetch_payload(
            endpoint, parameters, lambda payload: result_set_of(payload, result_set)
        )

    def fetch_payload(self, endpoint: str, parameters: dict[str, Any], read: PayloadReader[T]) -> T:
        """One endpoint call whose JSON answer `read` turns into the result, after pacing and
        retries; for the endpoints that answer without `resultSets` (ScheduleLeagueV2)."""
        numbers = itertools.count(1)

        def paced(endpoint: str) -> _Numbered:
            self.bucket.acquire()
            return next(numbers), self._attempt(endpoint, parameters, read)

        attempts, attempt = self._retrying(paced, endpoint)
        if attempt.outcome == "ok":
            result: T = attempt.value
            return result
        shown = {k: self._scrub(v) if isinstance(v, str) else v for k, v in parameters.items()}
        # A secret can be in the cause's own text (requests puts the URL there): then the
        # chain stops here.
        cause = None if self._secrets else attempt.cause
        if attempt.outcome == "bad_payload":
            raise SourcePayloadError(
                f"{self.source} {endpoint} ({show(shown)}): {attempt.error}"
            ) from cause
        retryable = attempt.outcome in _RETRYABLE_OUTCOMES
        error_type = SourceRejected if attempt.outcome == "client_error" else SourceUnavailable
        raise error_type(
            endpoint=endpoint,
            parameters=shown,
            attempts=attempts,
            last_error=attempt.error if retryable else f"{attempt.error} (not retried)",
            status=attempt.status,
            source=self.source,
        ) from cause

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _attempt(
        self, endpoint: str, parameters: dict[str, Any], read: PayloadReader[Any]
    ) -> _Attempt:
        started = self._clock()
        attempt = self._send(endpoint, parameters, read)
        self._report(endpoint, self._clock() - started, attempt.outcome)
        if self._secrets and attempt.error:
            attempt = dataclasses.replace(attempt, error=self._scrub(attempt.error))
        return attempt

    def _send(
        self, endpoint: str, parameters: dict[str, Any], read: PayloadReader[Any]
    ) -> _Attempt:
        try:
            status, body = self._transport(endpoint, parameters, self.timeout_s)
        except requests.Timeout as exc:  # before ConnectionError: ConnectTimeout is both
            return _Attempt("timeout", f"timed out (timeout {self.timeout_s:g}s): {exc}", cause=exc)
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            return _Attempt("connection_error", f"connection error: {exc}", cause=exc)
        except requests.RequestException as exc:
            return _Attempt("request_error", f"{type(exc).__name__}: {exc}", cause=exc)

        if status is not None and not 200 <= status < 300:
            snippet = " ".join(body[:_BODY_SNIPPET].split())
            error = f"HTTP {status}" + (f": {snippet}" if snippet else "")
            if status == 429:
                return _Attempt("throttled", error, status)
            if status >= 500:
                return _Attempt("server_error", error, status)
            return _Attempt("client_error", error, status)
        try:
            payload = json.loads(body)
        except ValueError as exc:
            snippet = " ".join(body[:_BODY_SNIPPET].split()) or "(empty body)"
            return _Attempt("bad_payload", f"response is not JSON: {snippet!r}", status, exc)
        try:
            value = read(payload)
        except SourcePayloadError as exc:
            return _Attempt("bad_payload", str(exc), status)
        return _Attempt("ok", status=status, value=value)

    def _report(self, endpoint: str, seconds: float, outcome: str) -> None:
        if self._on_request is None:
            return
        try:
            self._on_request(endpoint, seconds, outcome)
        except Exception:  # a broken metrics hook must not stop ingestion
            log.exception("on_request hook failed", extra={"endpoint": endpoint})


def result_set_of(payload: Any, name: str) -> tuple[list[str], list[list[Any]]]:
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


def show(parameters: Mapping[str, Any]) -> str:
    """Parameters as they appear in error messages: `Name='value'`, sorted."""
    return ", ".join(f"{k}={v!r}" for k, v in sorted(parameters.items()))
