"""NbaApiSource against recorded stats.nba.com responses served by `responses` (no network).

Fixtures: tests/fixtures/nba_api (real 2023-24 rows in the endpoints' shape; see its README).
Time is fake: the token bucket and the retry backoff sleep on FakeTime, never for real.

One module, over 400 lines: every test serves the same recorded responses through the same
fake time.
"""

import datetime as dt
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import responses

from statmuse_ingestor.nba_api_source import (
    OUTCOMES,
    NbaApiSource,
    SourcePayloadError,
    SourceRejected,
    SourceUnavailable,
)
from statmuse_ingestor.ratelimit import RetryPolicy, TokenBucket

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "nba_api"
LEAGUE_GAME_LOG_URL = "https://stats.nba.com/stats/leaguegamelog"
PLAYER_GAME_LOG_URL = "https://stats.nba.com/stats/playergamelog"

PLAYER_HEADERS = [
    "SEASON_ID",
    "PLAYER_ID",
    "PLAYER_NAME",
    "TEAM_ID",
    "TEAM_ABBREVIATION",
    "TEAM_NAME",
    "GAME_ID",
    "GAME_DATE",
    "MATCHUP",
    "WL",
    "MIN",
    "FGM",
    "FGA",
    "FG_PCT",
    "FG3M",
    "FG3A",
    "FG3_PCT",
    "FTM",
    "FTA",
    "FT_PCT",
    "OREB",
    "DREB",
    "REB",
    "AST",
    "STL",
    "BLK",
    "TOV",
    "PF",
    "PTS",
    "PLUS_MINUS",
    "FANTASY_PTS",
    "VIDEO_AVAILABLE",
]
TEAM_HEADERS = [
    "SEASON_ID",
    "TEAM_ID",
    "TEAM_ABBREVIATION",
    "TEAM_NAME",
    "GAME_ID",
    "GAME_DATE",
    "MATCHUP",
    "WL",
    "MIN",
    "FGM",
    "FGA",
    "FG_PCT",
    "FG3M",
    "FG3A",
    "FG3_PCT",
    "FTM",
    "FTA",
    "FT_PCT",
    "OREB",
    "DREB",
    "REB",
    "AST",
    "STL",
    "BLK",
    "TOV",
    "PF",
    "PTS",
    "PLUS_MINUS",
    "VIDEO_AVAILABLE",
]
OPENING_NIGHT = dt.date(2023, 10, 24)
TEAM_REGULAR = "leaguegamelog_T_2023-24_regular_season.json"
JITTER = 0.5  # fixed fraction, so the policy's delays are 0.5, 1, 2, 4 ... seconds


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


def sent_params(recorded: dict[str, Any]) -> dict[str, str]:
    """The query nba_api sends for a recorded response (the server echoes it; null is blank)."""
    return {k: "" if v is None else str(v) for k, v in recorded["parameters"].items()}


def serve(mocked: responses.RequestsMock, name: str, **kwargs: Any) -> None:
    """Serve a fixture at the endpoint's real URL, only for exactly the query it was for."""
    recorded = fixture(name)
    url = f"https://stats.nba.com/stats/{recorded['resource']}"
    match = [responses.matchers.query_param_matcher(sent_params(recorded))]
    mocked.add(responses.GET, url, json=recorded, match=match, **kwargs)


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class Harness:
    pacing: FakeTime = field(default_factory=FakeTime)  # the token bucket's clock
    backoff: FakeTime = field(default_factory=FakeTime)  # the source's retry sleep
    outcomes: list[tuple[str, str]] = field(default_factory=list)

    def source(self, **overrides: Any) -> NbaApiSource:
        options: dict[str, Any] = {
            "bucket": TokenBucket.every(0.6, clock=self.pacing.monotonic, sleep=self.pacing.sleep),
            "retry": RetryPolicy(attempts=5, base_s=1.0, cap_s=30.0, jitter=lambda: JITTER),
            "on_request": lambda endpoint, seconds, outcome: self.outcomes.append(
                (endpoint, outcome)
            ),
            "sleep": self.backoff.sleep,
            "clock": self.backoff.monotonic,
        }
        return NbaApiSource(**(options | overrides))


@pytest.fixture(autouse=True)
def _no_proxy_requirement(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NBA_API_REQUIRE_PROXY", raising=False)


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    # Any request not registered fails inside requests; nothing reaches the network.
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def harness() -> Harness:
    return Harness()


def query(mocked: responses.RequestsMock, index: int) -> dict[str, str]:
    """The query string of the index-th request, as sent."""
    url = mocked.calls[index].request.url or ""
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


# -- rows ---------------------------------------------------------------------------------------


def test_player_rows_have_the_endpoint_columns_and_values(
    mocked: responses.RequestsMock, harness: Harness
) -> None:
    for slug in ("regular_season", "playoffs", "playin"):
        serve(mocked, f"leaguegamelog_P_2023-24_{slug}_2023-10-24.json")

    rows = list(
        harness.source().player_rows("2023-24", date_from=OPENING_NIGHT, date_to=OPENING_NIGHT)
    )

    assert len(rows) == 5  # the Playoffs and PlayIn windows are empty: not an error
    assert all(list(r.record) == [*PLAYER_HEADERS, "SEASON_TYPE"] for r in rows)
    lebron = next(r for r in rows if r.record["PLAYER_ID"] == "2544")
    assert lebron.location == "nba_api:leaguegamelog:P:2023-24:Regular Season:row 4"
    assert lebron.record == lebron.record | {
        "SEASON_ID": "22023",
        "PLAYER_NAME": "LeBron James",
        "TEAM_ID": "1610612747",
        "TEAM_ABBREVIATION": "LAL",
        "GAME_ID": "0022300061",
        "GAME_DATE": "2023-10-24",
        "MATCHUP": "LAL @ DEN",
        "WL": "L",
        "MIN": "29",
        "PTS": "21",
        "REB": "8",
        "AST": "5",
        "FG_PCT": "0.625",
        "FT_PCT": "0.0",
        "PLUS_MINUS": "7",
        "PF": "",  # null in the payload
        "SEASON_TYPE": "Regular Season",
    }
    assert {r.record["PLAYER_NAME"] for r in rows} >= {"Nikola Jokić", "Anthony Davis"}
    assert harness.outcomes == [("leaguegamelog", "ok")] * 3


def test_none_becomes_empty_string(mocked: responses.RequestsMock, harness: Harness) -> None:
    serve(mocked, "leaguegamelog_P_2023-24_regular_season_2023-10-24.json")
    source = harness.source(season_types=("Regular Season",))

    rows = list(source.player_rows("2023-24", date_from=OPENING_NIGHT, date_to=OPENING_NIGHT))

    key = next(r.record for r in rows if r.record["PLAYER_NAME"] == "Braxton Key")
    assert (key["FG_PCT"], key["FG3_PCT"], key["FT_PCT"], key["FGA"]) == ("", "", "", "0")
    assert all(isinstance(v, str) for r in rows for v in r.record.values())


def test_team_rows_cover_every_season_type_and_carry_it(
    mocked: responses.RequestsMock, harness: Harness
) -> None:
    for slug in ("regular_season", "playoffs", "playin"):
        serve(mocked, f"leaguegamelog_T_2023-24_{slug}.json")

    rows = list(harness.source().team_rows("2023-24"))

    assert [query(mocked, i)["SeasonType"] for i in range(3)] == [
        "Regular Season",
        "Playoffs",
        "PlayIn",
    ]
    assert [(r.record["SEASON_TYPE"], r.record["GAME_ID"]) for r in rows] == [
        ("Regular Season", "0022300061"),
        ("Regular Season", "0022300061"),
        ("Playoffs", "0042300111"),
        ("Playoffs", "0042300111"),
        ("PlayIn", "0052300121"),
        ("PlayIn", "0052300121"),
    ]
    # SEASON_TYPE agrees with the type digit the endpoint puts in SEASON_ID.
    digit = {"Regular Season": "2", "Playoffs": "4", "PlayIn": "5"}
    assert all(r.record["SEASON_ID"][0] == digit[r.record["SEASON_TYPE"]] for r in rows)
    assert list(rows[0].record) == [*TEAM_HEADERS, "SEASON_TYPE"]
    assert rows[0].record["TEAM_ABBREVIATION"] == "DEN"
    assert rows[0].record["PTS"] == "119"
    assert rows[5].location == "nba_api:leaguegamelog:T:2023-24:PlayIn:row 2"


def test_dates_are_sent_as_mm_dd_yyyy(mocked: responses.RequestsMock, harness: Harness) -> None:
    serve(mocked, "leaguegamelog_P_2023-24_regular_season_2023-10-24.json")
    source = harness.source(season_types=("Regular Season",))

    list(source.player_rows("2023-24", date_from=OPENING_NIGHT, date_to=OPENING_NIGHT))

    assert query(mocked, 0) == {
        "Counter": "0",
        "DateFrom": "10/24/2023",
        "DateTo": "10/24/2023",
        "Direction": "ASC",
        "LeagueID": "00",
        "PlayerOrTeam": "P",
        "Season": "2023-24",
        "SeasonType": "Regular Season",
        "Sorter": "DATE",
    }


def test_an_open_date_bound_is_sent_blank(mocked: responses.RequestsMock, harness: Harness) -> None:
    mocked.add(responses.GET, LEAGUE_GAME_LOG_URL, json=fixture(TEAM_REGULAR))
    source = harness.source(season_types=("Regular Season",))

    list(source.team_rows("2023-24", date_from=dt.date(2024, 3, 2)))

    assert (query(mocked, 0)["DateFrom"], query(mocked, 0)["DateTo"]) == ("03/02/2024", "")


def test_player_game_log(mocked: responses.RequestsMock, harness: Harness) -> None:
    serve(mocked, "playergamelog_2544_2023-24_regular_season.json")
    source = harness.source(season_types=("Regular Season",))

    rows = list(source.player_game_log(2544, "2023-24"))

    assert (mocked.calls[0].request.url or "").startswith(PLAYER_GAME_LOG_URL)
    assert query(mocked, 0)["PlayerID"] == "2544"
    assert [r.record["Game_ID"] for r in rows] == ["0022300100", "0022300076", "0022300061"]
    assert rows[2].record["GAME_DATE"] == "Oct 24, 2023"
    assert rows[2].record["PTS"] == "21"
    assert rows[2].record["SEASON_TYPE"] == "Regular Season"
    assert rows[0].location == "nba_api:playergamelog:2544:2023-24:Regular Season:row 1"


def test_player_game_log_asks_for_every_season_type(
    mocked: responses.RequestsMock, harness: Harness
) -> None:
    recorded = fixture("playergamelog_2544_2023-24_regular_season.json")
    mocked.add(responses.GET, PLAYER_GAME_LOG_URL, json=recorded)
    for season_type in ("Playoffs", "PlayIn"):
        # The same response with no games, as for a player whose team missed that stage.
        empty = json.loads(json.dumps(recorded))
        empty["parameters"]["SeasonType"] = season_type
        empty["resultSets"][0]["rowSet"] = []
        mocked.add(responses.GET, PLAYER_GAME_LOG_URL, json=empty)

    rows = list(harness.source().player_game_log("2544", "2023-24"))

    assert [query(mocked, i)["SeasonType"] for i in range(3)] == [
        "Regular Season",
        "Playoffs",
        "PlayIn",
    ]
    assert len(rows) == 3


def test_nothing_is_fetched_until_rows_are_read(
    mocked: responses.RequestsMock, harness: Harness
) -> None:
    mocked.add(responses.GET, LEAGUE_GAME_LOG_URL, json=fixture(TEAM_REGULAR))
    source = harness.source(season_types=("Regular Season",))

    rows = source.team_rows("2023-24")
    assert len(mocked.calls) == 0
    next(rows)
    assert len(mocked.calls) == 1


@pytest.mark.parametrize(
    ("season", "date_from", "date_to"),
    [
        ("2023", None, None),
        ("2023-25", None, None),
        ("2023-24", dt.date(2024, 1, 2), dt.date(2024, 1, 1)),
    ],
)
def test_bad_arguments_fail_before_any_request(
    mocked: responses.RequestsMock,
    harness: Harness,
    season: str,
    date_from: dt.date | None,
    date_to: dt.date | None,
) -> None:
    with pytest.raises(ValueError, match="season|before"):
        harness.source().player_rows(season, date_from=date_from, date_to=date_to)
    assert len(mocked.calls) == 0


# -- retries ------------------------------------------------------------------------------------


def test_429_is_retried_after_the_policys_backoff(
    mocked: responses.RequestsMock, harness: Harness
) -> None:
    serve(mocked, TEAM_REGULAR, status=429)
    serve(mocked, TEAM_REGULAR)
    policy = RetryPolicy(attempts=5, base_s=1.0, cap_s=30.0, jitter=lambda: JITTER)
    source = harness.source(retry=policy, season_types=("Regular Season",))

    rows = list(source.team_rows("2023-24"))

    assert len(rows) == 2
    assert len(mocked.calls) == 2
    assert harness.backoff.sleeps == [policy.delay(1)] == [0.5]
    assert harness.outcomes == [("leaguegamelog", "throttled"), ("leaguegamelog", "ok")]


def test_500_three_times_then_success(mocked: responses.RequestsMock, harness: Harness) -> None:
    for _ in range(3):
        mocked.add(
            responses.GET,
            LEAGUE_GAME_LOG_URL,
            status=500,
            body='{"Message":"An error has occurred."}',
        )
    serve(mocked, TEAM_REGULAR)
    source = harness.source(season_types=("Regular Season",))

    rows = list(source.team_rows("2023-24"))

    assert [r.record["TEAM_ABBREVIATION"] for r in rows] == ["DEN", "LAL"]
    assert len(mocked.calls) == 4
    assert harness.backoff.sleeps == [0.5, 1.0, 2.0]  # 1, 2, 4 s ceilings x jitter 0.5
    assert [o for _, o in harness.outcomes] == ["server_error"] * 3 + ["ok"]


def test_each_retry_is_logged_with_the_attempt_and_the_wait(
    mocked: responses.RequestsMock, harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    serve(mocked, TEAM_REGULAR, status=503)
    serve(mocked, TEAM_REGULAR, status=429)
    serve(mocked, TEAM_REGULAR)
    source = harness.source(season_types=("Regular Season",))

    with caplog.at_level(logging.WARNING, logger="statmuse_ingestor.nba_api_source"):
        list(source.team_rows("2023-24"))

    retries = [r for r in caplog.records if r.getMessage() == "nba_api request failed; retrying"]
    assert [
        (r.endpoint, r.attempt, r.outcome, r.retry_in_s)  # type: ignore[attr-defined]
        for r in retries
    ] == [("leaguegamelog", 1, "server_error", 0.5), ("leaguegamelog", 2, "throttled", 1.0)]
    assert retries[0].error.startswith("HTTP 503")  # type: ignore[attr-defined]


def test_a_connection_error_is_retried(mocked: responses.RequestsMock, harness: Harness) -> None:
    mocked.add(
        responses.GET, LEAGUE_GAME_LOG_URL, body=requests.ConnectionError("connection reset")
    )
    serve(mocked, TEAM_REGULAR)
    source = harness.source(season_types=("Regular Season",))

    assert len(list(source.team_rows("2023-24"))) == 2
    assert [o for _, o in harness.outcomes] == ["connection_error", "ok"]


def test_a_time_out_on_every_try_raises_source_unavailable(
    mocked: responses.RequestsMock, harness: Harness
) -> None:
    mocked.add(
        responses.GET,
        LEAGUE_GAME_LOG_URL,
        body=requests.exceptions.ReadTimeout("Read timed out. (read timeout=30)"),
    )
    source = harness.source(
        retry=RetryPolicy(attempts=4, jitter=lambda: JITTER), season_types=("Regular Season",)
    )

    with pytest.raises(SourceUnavailable) as raised:
        list(source.team_rows("2023-24"))

    error = raised.value
    assert (error.endpoint, error.attempts, error.status) == ("leaguegamelog", 4, None)
    assert error.parameters["SeasonType"] == "Regular Season"
    assert "leaguegamelog" in str(error)
    assert "Season='2023-24'" in str(error)
    assert "after 4 attempts" in str(error)
    assert "timed out" in str(error)
    assert isinstance(error.__cause__, requests.Timeout)
    assert len(mocked.calls) == 4
    assert harness.backoff.sleeps == [0.5, 1.0, 2.0]  # no sleep after the last try
    assert [o for _, o in harness.outcomes] == ["timeout"] * 4


@pytest.mark.parametrize("status", [400, 404])
def test_other_4xx_are_not_retried(
    mocked: responses.RequestsMock, harness: Harness, status: int
) -> None:
    mocked.add(
        responses.GET,
        LEAGUE_GAME_LOG_URL,
        status=status,
        body="The field SeasonType must match the regular expression "
        "'^(Regular Season)|(Pre Season)|(Playoffs)|(All Star)|(PlayIn)$'.",
    )
    source = harness.source(season_types=("Regular Season",))

    with pytest.raises(SourceRejected, match=rf"after 1 attempt: HTTP {status}: The field") as e:
        list(source.team_rows("2023-24"))

    assert isinstance(e.value, SourceUnavailable)
    assert (e.value.status, e.value.attempts) == (status, 1)
    assert len(mocked.calls) == 1
    assert harness.backoff.sleeps == []
    assert harness.outcomes == [("leaguegamelog", "client_error")]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("<html><body>Access Denied</body></html>", r"not JSON: '<html><body>Access Denied"),
        ("", r"not JSON: '\(empty body\)'"),
        # nba_api rewrites this body to XML before we see it.
        ('{"Message":"An error has occurred."}', r"not JSON: '<Error><Message>An error"),
        ('{"resource": "leaguegamelog", "parameters": {}}', r"no 'resultSets' list"),
        ('{"resultSets": [{"name": "Other", "headers": [], "rowSet": []}]}', r"named 'LeagueGa"),
        ('{"resultSets": [{"name": "LeagueGameLog", "rowSet": []}]}', r"no 'headers' list"),
        ('{"resultSets": [{"name": "LeagueGameLog", "headers": ["A"]}]}', r"no 'rowSet' list"),
        (
            '{"resultSets": [{"name": "LeagueGameLog", "headers": ["A", "B"], "rowSet": [[1]]}]}',
            r"row 1 has 1 values for 2 headers",
        ),
        ("[1, 2]", r"expected a JSON object, got list"),
    ],
)
def test_a_malformed_payload_raises_source_payload_error(
    mocked: responses.RequestsMock, harness: Harness, body: str, message: str
) -> None:
    mocked.add(responses.GET, LEAGUE_GAME_LOG_URL, status=200, body=body)
    source = harness.source(season_types=("Regular Season",))

    with pytest.raises(SourcePayloadError, match=message) as raised:
        list(source.team_rows("2023-24"))

    assert str(raised.value).startswith("nba_api leaguegamelog (Counter=0, DateFrom=''")
    assert len(mocked.calls) == 1
    assert harness.outcomes == [("leaguegamelog", "bad_payload")]


def test_a_failing_metrics_hook_does_not_stop_the_fetch(
    mocked: responses.RequestsMock, harness: Harness
) -> None:
    serve(mocked, TEAM_REGULAR)

    def broken(endpoint: str, seconds: float, outcome: str) -> None:
        raise RuntimeError("metrics backend down")

    source = harness.source(on_request=broken, season_types=("Regular Season",))

    assert len(list(source.team_rows("2023-24"))) == 2


def test_the_hook_gets_latency_and_a_known_outcome(mocked: responses.RequestsMock) -> None:
    serve(mocked, TEAM_REGULAR)
    seen: list[tuple[str, float, str]] = []
    ticks = iter([10.0, 10.25])
    source = NbaApiSource(
        bucket=TokenBucket(1000.0),
        season_types=("Regular Season",),
        on_request=lambda *call: seen.append(call),
        clock=lambda: next(ticks),
    )

    list(source.team_rows("2023-24"))

    assert seen == [("leaguegamelog", 0.25, "ok")]
    assert seen[0][2] in OUTCOMES


# -- pacing -------------------------------------------------------------------------------------


def test_the_token_bucket_spaces_calls(mocked: responses.RequestsMock, harness: Harness) -> None:
    sent_at: list[float] = []
    body = json.dumps(fixture(TEAM_REGULAR))

    def reply(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        sent_at.append(harness.pacing.now)
        return 200, {}, body

    mocked.add_callback(responses.GET, LEAGUE_GAME_LOG_URL, callback=reply)
    source = harness.source()  # all three season types: three calls per season
    calls = 6

    for _ in range(calls // 3):
        list(source.team_rows("2023-24"))

    assert len(sent_at) == calls
    assert sent_at[-1] - sent_at[0] >= (calls - 1) * 0.6 - 1e-9
    assert all(b - a >= 0.6 - 1e-9 for a, b in zip(sent_at, sent_at[1:], strict=False))


def test_the_bucket_waits_on_retries_too(mocked: responses.RequestsMock, harness: Harness) -> None:
    serve(mocked, TEAM_REGULAR, status=503)
    serve(mocked, TEAM_REGULAR)
    source = harness.source(season_types=("Regular Season",))

    list(source.team_rows("2023-24"))

    assert harness.pacing.sleeps == [pytest.approx(0.6)]


def test_bucket_allows_a_burst_then_paces() -> None:
    clock = FakeTime()
    bucket = TokenBucket(2.0, burst=3, clock=clock.monotonic, sleep=clock.sleep)

    waits = [bucket.acquire() for _ in range(5)]

    assert waits == [0.0, 0.0, 0.0, pytest.approx(0.5), pytest.approx(0.5)]
    assert clock.now == pytest.approx(1.0)


def test_bucket_refills_while_idle_up_to_the_burst() -> None:
    clock = FakeTime()
    bucket = TokenBucket.every(0.6, clock=clock.monotonic, sleep=clock.sleep)
    bucket.acquire()

    clock.now += 60.0  # a long pause earns one token (burst 1), not a hundred
    waits = [bucket.acquire() for _ in range(3)]

    assert waits == [0.0, pytest.approx(0.6), pytest.approx(0.6)]


def test_bucket_is_first_come_first_served_across_threads() -> None:
    # The clock stands still: each thread must reserve its own slot, 0.6 s after the last one.
    waits: list[float] = []
    lock = threading.Lock()
    bucket = TokenBucket.every(0.6, clock=lambda: 0.0, sleep=lambda s: None)

    def take() -> None:
        waited = bucket.acquire()
        with lock:
            waits.append(waited)

    threads = [threading.Thread(target=take) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=5)

    assert sorted(waits) == pytest.approx([i * 0.6 for i in range(10)])


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1), (-1.0, 1), (1.0, 0)])
def test_bucket_rejects_nonsense(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        TokenBucket(rate, burst)


# -- retry policy -------------------------------------------------------------------------------


def test_backoff_doubles_up_to_the_cap() -> None:
    policy = RetryPolicy(attempts=10, base_s=1.0, cap_s=30.0, jitter=lambda: 1.0)

    assert [policy.delay(n) for n in range(1, 8)] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert policy.delay(10_000) == 30.0  # no float overflow


def test_backoff_is_full_jitter() -> None:
    fractions = iter([0.0, 0.25, 0.999])
    policy = RetryPolicy(base_s=2.0, jitter=lambda: next(fractions))

    assert [policy.delay(3) for _ in range(3)] == [0.0, 2.0, pytest.approx(7.992)]


def test_default_jitter_stays_within_the_ceiling() -> None:
    policy = RetryPolicy()

    delays = [policy.delay(4) for _ in range(200)]

    assert all(0.0 <= d <= 8.0 for d in delays)
    assert len(set(delays)) > 1


def test_attempts_count_the_first_try() -> None:
    policy = RetryPolicy(attempts=3)

    assert [policy.should_retry(n) for n in (1, 2, 3)] == [True, True, False]
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)


# -- static lookups -----------------------------------------------------------------------------


def test_lookup_player_by_name_and_id(harness: Harness) -> None:
    source = harness.source()

    lebron = source.lookup_player("LeBron James")
    assert lebron is not None
    assert lebron.player_id == 2544
    assert source.lookup_player(" lebron james ") == lebron
    assert source.lookup_player(2544) == lebron
    assert source.lookup_player("2544") == lebron
    jokic = source.lookup_player("Nikola Jokic")  # accents optional
    assert jokic is not None
    assert (jokic.player_id, jokic.full_name) == (203999, "Nikola Jokić")


def test_lookup_player_unknown_and_not_a_pattern(harness: Harness) -> None:
    source = harness.source()

    assert source.lookup_player("Nobody McNobodyface") is None
    assert source.lookup_player("LeBron") is None  # full names only
    assert source.lookup_player(".*") is None  # the name is not a regex


def test_lookup_team(harness: Harness) -> None:
    source = harness.source()

    denver = source.lookup_team("DEN")
    assert denver is not None
    assert (denver.team_id, denver.full_name) == (1610612743, "Denver Nuggets")
    assert source.lookup_team("den") == denver
    assert source.lookup_team("XYZ") is None
    assert source.lookup_team(".*") is None


# -- the rows normalise -------------------------------------------------------------------------


def test_live_rows_normalise_like_the_bundled_files(
    mocked: responses.RequestsMock, harness: Harness
) -> None:
    from statmuse_ingestor.service import normalise_player_row, normalise_team_row

    for name in (
        "leaguegamelog_P_2023-24_regular_season_2023-10-24.json",
        "leaguegamelog_P_2023-24_playoffs_2023-10-24.json",
        "leaguegamelog_P_2023-24_playin_2023-10-24.json",
        "leaguegamelog_T_2023-24_regular_season.json",
        "leaguegamelog_T_2023-24_playoffs.json",
        "leaguegamelog_T_2023-24_playin.json",
        "playergamelog_2544_2023-24_regular_season.json",
    ):
        serve(mocked, name)
    day = dt.date(2023, 10, 24)
    source = harness.source()
    players = [
        normalise_player_row(r.record, source="nba_api").game
        for r in source.player_rows("2023-24", date_from=day, date_to=day)
    ]
    teams = [
        normalise_team_row(r.record, source="nba_api").game for r in source.team_rows("2023-24")
    ]
    own = [
        normalise_player_row(r.record, source="nba_api").game
        for r in harness.source(season_types=("Regular Season",)).player_game_log(2544, "2023-24")
    ]
    assert players
    assert teams
    assert all(p.game_date == day and p.season == "2023-24" for p in players)
    lebron = next(p for p in players if p.player_id == 2544)
    # The same game from PlayerGameLog normalises to the same key and stats.
    same = next(p for p in own if p.game_date == day)
    assert (same.game_key, same.points, same.team, same.player_name) == (
        lebron.game_key,
        lebron.points,
        "LAL",
        "LeBron James",
    )
    assert {t.game_key for t in teams} >= {lebron.game_key}
