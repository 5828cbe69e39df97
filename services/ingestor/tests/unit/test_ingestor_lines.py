"""Prop lines: rows validated and matched to players, the bundled files, The Odds API on
recorded responses (pacing, retries, the key kept secret), and storing and publishing once per
move (TestKafkaBroker over the in-memory feeds)."""

import datetime as dt
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import responses
from faststream.kafka import KafkaMessage, TestKafkaBroker

from statmuse_ingestor.lines import ingest_lines
from statmuse_ingestor.lines_rows import Roster, match_player, normalise_line_row, rosters
from statmuse_ingestor.nba_api_client import SourceRejected
from statmuse_ingestor.odds_api_source import BASE_URL, TheOddsApiSource, eastern_date
from statmuse_ingestor.ratelimit import RetryPolicy, TokenBucket
from statmuse_ingestor.runtime import IngestorRuntime
from statmuse_ingestor.service import RejectedRow, normalise_player_row
from statmuse_ingestor.sources import FileSource, RawRow, SourceError
from statmuse_shared.contract import topics
from statmuse_shared.contract.messages import DeadLetter, PropLinePosted

from .fakes import FakeTime, memory_runtime

DATA = Path(__file__).resolve().parents[4] / "data" / "nba"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "the_odds_api"
KEY = "k3y-not-to-be-seen"
MIL_PHX = "1d94d6d2735bab50962c587499844cce"
DET_MIA = "715cf1e7a7ede64f89f706ff40a2399a"
KNOWN = rosters([(203507, "Giannis Antetokounmpo", "MIL"), (1626164, "Devin Booker", "PHX")])


def line(**overrides: str) -> dict[str, str]:
    base = {
        "game_date": "2024-03-17",
        "commence_time": "2024-03-17T17:10:27Z",
        "event_id": MIL_PHX,
        "home_team": "Milwaukee Bucks",
        "away_team": "Phoenix Suns",
        "player_name": "Devin Booker",
        "market": "points",
        "bookmaker": "DraftKings",
        "line": "27.5",
        "over_odds": "-115.0",
        "under_odds": "-105.0",
    }
    return base | overrides


# -- one row ------------------------------------------------------------------------------------


def test_a_row_becomes_the_line_matched_to_its_player() -> None:
    posted, checksum = normalise_line_row(line(), source="files", known=KNOWN)
    assert posted == posted.model_copy(
        update={
            "odds_event_id": MIL_PHX,
            "game_date": dt.date(2024, 3, 17),
            "commence_time": dt.datetime(2024, 3, 17, 17, 10, 27, tzinfo=dt.UTC),
            "home": "MIL",
            "away": "PHX",
            "game_key": "2024-03-17:PHX@MIL",
            "player_id": 1626164,
            "stat": "points",
            "book": "draftkings",
            "line": 27.5,
            "over_price": -115,
            "under_price": -105,
        }
    )
    assert len(checksum) == 64


def test_a_name_no_box_score_has_stays_unmatched() -> None:
    posted, _ = normalise_line_row(line(player_name="Joshua Giddey"), source="files", known=KNOWN)
    assert posted.player_id is None


def test_a_shared_name_is_the_player_of_one_of_the_two_teams() -> None:
    known = {"marcus morris": [Roster(1, "PHI"), Roster(2, "MIL")]}
    assert match_player("Marcus Morris", "MIL", "PHX", known) == 2
    assert match_player("Marcus Morris", "BOS", "PHX", known) is None


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"line": ""}, "missing critical fields: line"),
        ({"market": "dunks"}, "unknown market 'dunks'"),
        ({"home_team": "Seattle SuperSonics"}, "unknown team 'Seattle SuperSonics'"),
        ({"line": "nan"}, "line out of range 0..200: 'nan'"),
        ({"line": "1e309"}, "line out of range 0..200: '1e309'"),
        ({"over_odds": "-50"}, "over_odds are not American odds: '-50'"),
        ({"under_odds": "even"}, "under_odds are not American odds: 'even'"),
        ({"commence_time": "soon"}, "commence_time is not a date and time: 'soon'"),
    ],
)
def test_a_row_that_is_not_a_line_is_rejected_with_the_reason(
    overrides: dict[str, str], reason: str
) -> None:
    with pytest.raises(RejectedRow) as caught:
        normalise_line_row(line(**overrides), source="files", known=KNOWN)
    assert caught.value.reason == reason


# -- the bundled files ---------------------------------------------------------------------------


def bundled_players() -> dict[str, list[Roster]]:
    """The 2023-24 players as the ingestor would know them after backfilling that season."""
    latest: dict[int, tuple[dt.date, str, str]] = {}
    for raw in FileSource(DATA).player_rows("2023-24"):
        g = normalise_player_row(raw.record, source="files").game
        if g.player_id not in latest or g.game_date >= latest[g.player_id][0]:
            latest[g.player_id] = (g.game_date, g.player_name, g.team)
    return rosters((pid, name, team) for pid, (_, name, team) in latest.items())


def test_the_bundled_lines_read_and_match_almost_all_players() -> None:
    known = bundled_players()
    day = dt.date(2024, 3, 17)
    rows = list(FileSource(DATA).lines_rows("2023-24", date_from=day, date_to=day))
    lines = [normalise_line_row(r.record, source="files", known=known).line for r in rows]
    assert len(lines) == 2940  # both files' rows of that day: 2,383 + 557
    assert {ln.odds_event_id for ln in lines} >= {MIL_PHX, DET_MIA}
    matched = [ln for ln in lines if ln.player_id is not None]
    assert len(matched) / len(lines) > 0.99
    booker = [ln for ln in lines if ln.player_id == 1626164 and ln.stat == "points"]
    assert {ln.book for ln in booker} == {"betrivers", "pointsbetus", "unibet_us", "williamhill_us"}
    assert {ln.game_key for ln in booker} == {"2024-03-17:PHX@MIL"}


def test_a_season_without_lines_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no prop lines for 2022-23"):
        list(FileSource(DATA).lines_rows("2022-23"))


# -- The Odds API, on recorded responses ---------------------------------------------------------


def recorded(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def live(time: FakeTime) -> TheOddsApiSource:
    return TheOddsApiSource(
        api_key=KEY,
        bucket=TokenBucket.every(1.0, clock=time.monotonic, sleep=time.sleep),
        retry=RetryPolicy(attempts=3, base_s=1.0, cap_s=4.0, jitter=lambda: 0.5),
        sleep=time.sleep,
        clock=time.monotonic,
    )


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def serve_events(mocked: responses.RequestsMock, **kwargs: Any) -> None:
    query = {"apiKey": KEY, "dateFormat": "iso"}
    mocked.add(
        responses.GET,
        f"{BASE_URL}/sports/basketball_nba/events",
        match=[responses.matchers.query_param_matcher(query)],
        **({"json": recorded("events.json")} | kwargs),
    )


def serve_odds(mocked: responses.RequestsMock, event: str) -> None:
    query = {
        "apiKey": KEY,
        "regions": "us",
        "markets": "player_points,player_rebounds,player_assists,player_threes,"
        "player_points_rebounds_assists",
        "oddsFormat": "american",
        "dateFormat": "iso",
    }
    mocked.add(
        responses.GET,
        f"{BASE_URL}/sports/basketball_nba/events/{event}/odds",
        json=recorded(f"event_odds_{event}.json"),
        match=[responses.matchers.query_param_matcher(query)],
    )


def test_the_live_lines_are_the_same_lines_as_the_files(mocked: responses.RequestsMock) -> None:
    serve_events(mocked)
    serve_odds(mocked, MIL_PHX)
    serve_odds(mocked, DET_MIA)
    time = FakeTime()
    rows = list(live(time).lines_rows("2023-24"))
    assert len(rows) == 76 + 570
    day = dt.date(2024, 3, 17)
    files = [
        r.record
        for r in FileSource(DATA).lines_rows("2023-24", date_from=day, date_to=day)
        if r.record["event_id"] in (MIL_PHX, DET_MIA) and r.location.startswith("2023-24_mar")
    ]

    def key(record: dict[str, str]) -> tuple[object, ...]:
        posted = normalise_line_row(record, source="x", known=KNOWN).line
        return (
            posted.odds_event_id,
            posted.player_name,
            posted.stat,
            posted.book,
            posted.line,
            posted.over_price,
            posted.under_price,
            posted.game_key,
        )

    assert sorted(key(r.record) for r in rows) == sorted(key(r) for r in files)
    assert time.sleeps == [1.0, 1.0]  # three calls, paced a second apart


def test_the_window_and_the_season_keep_to_their_games(mocked: responses.RequestsMock) -> None:
    serve_events(mocked)
    assert list(live(FakeTime()).lines_rows("2024-25")) == []
    assert list(live(FakeTime()).lines_rows("2023-24", date_from=dt.date(2024, 3, 18))) == []


def test_a_throttled_call_is_retried(mocked: responses.RequestsMock) -> None:
    serve_events(mocked, status=429, json={"message": "quota"})
    serve_events(mocked)
    serve_odds(mocked, MIL_PHX)
    serve_odds(mocked, DET_MIA)
    time = FakeTime()
    assert len(list(live(time).lines_rows("2023-24"))) == 646
    assert 0.5 in time.sleeps  # the backoff: base 1 s x jitter 0.5


def test_a_bad_key_is_not_retried_and_never_shown(mocked: responses.RequestsMock) -> None:
    serve_events(mocked, status=401, json={"message": f"API key {KEY} is not valid"})
    with pytest.raises(SourceRejected) as caught:
        list(live(FakeTime()).lines_rows("2023-24"))
    message = str(caught.value)
    assert message.startswith("the_odds_api /sports/basketball_nba/events (apiKey='***'")
    assert "HTTP 401" in message
    assert "(not retried)" in message
    assert KEY not in message
    assert KEY not in repr(caught.value.parameters)
    assert caught.value.__cause__ is None


def test_a_tip_off_after_midnight_utc_is_the_eastern_day_before() -> None:
    assert eastern_date("2024-03-18T01:40:00Z") == dt.date(2024, 3, 17)


def test_no_key_no_source() -> None:
    with pytest.raises(ValueError, match="INGESTOR_ODDS_API_KEY"):
        TheOddsApiSource(api_key="")


def test_the_markets_asked_for_are_given_and_their_rows_are_ours(
    mocked: responses.RequestsMock,
) -> None:
    """Steals + blocks asked for by name (the default asks for the five markets the bundled
    lines have): the API's market key becomes `stocks`; an unknown market is refused."""
    serve_events(mocked)
    query = {
        "apiKey": KEY,
        "regions": "us",
        "markets": "player_points,player_blocks_steals",
        "oddsFormat": "american",
        "dateFormat": "iso",
    }
    for event in (MIL_PHX, DET_MIA):
        payload = recorded(f"event_odds_{event}.json")
        for book in payload["bookmakers"]:
            for market in book["markets"]:
                if market["key"] == "player_assists":  # as if the book had posted stocks
                    market["key"] = "player_blocks_steals"
        mocked.add(
            responses.GET,
            f"{BASE_URL}/sports/basketball_nba/events/{event}/odds",
            json=payload,
            match=[responses.matchers.query_param_matcher(query)],
        )
    time = FakeTime()
    source = TheOddsApiSource(
        api_key=KEY,
        markets=("player_points", "player_blocks_steals"),
        bucket=TokenBucket.every(1.0, clock=time.monotonic, sleep=time.sleep),
        sleep=time.sleep,
        clock=time.monotonic,
    )
    day = dt.date(2024, 3, 17)
    rows = [r.record for r in source.lines_rows("2023-24", date_from=day, date_to=day)]
    markets = {r["market"] for r in rows}
    assert "stocks" in markets
    assert "assists" not in markets
    with pytest.raises(ValueError, match="player_dunks"):
        TheOddsApiSource(api_key=KEY, markets=("player_dunks",))


# -- stored and published once per move -----------------------------------------------------------


@dataclass
class Probe:
    lines: list[tuple[bytes, PropLinePosted]] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)


@dataclass
class Rows:
    rows: list[dict[str, str]]
    name: str = "files"

    def lines_rows(
        self, season: str, *, date_from: dt.date | None = None, date_to: dt.date | None = None
    ) -> Iterator[RawRow]:
        return iter([RawRow(f"lines.csv:{i}", dict(r)) for i, r in enumerate(self.rows, 2)])


@pytest.fixture
async def wired() -> AsyncIterator[tuple[IngestorRuntime, Probe]]:
    rt = memory_runtime()
    probe = Probe()

    @rt.broker.subscriber(topics.LINES, group_id="probe")
    async def posted(body: PropLinePosted, msg: KafkaMessage) -> None:
        probe.lines.append((msg.raw_message.key, body))

    @rt.broker.subscriber(topics.dead_letter(topics.LINES), group_id="probe-dlq")
    async def dead(body: DeadLetter) -> None:
        probe.dead.append(body)

    async with TestKafkaBroker(rt.broker):
        yield rt, probe


async def test_each_line_is_published_once_and_again_when_it_moves(
    wired: tuple[IngestorRuntime, Probe],
) -> None:
    rt, probe = wired
    rows = [line(), line(bookmaker="fanduel"), line(player_name="Joshua Giddey")]
    first = await ingest_lines(rt, source=Rows(rows), seasons=["2023-24"])
    assert first.counts() == {
        "read": 3,
        "stored": 3,
        "unchanged": 0,
        "rejected": 0,
        "published": 3,
        "unmatched": 3,  # the in-memory ingest holds no box scores: nobody is known
        "conflicting": 0,
    }
    assert {k for k, _ in probe.lines} == {b"name:devin booker", b"name:joshua giddey"}

    again = await ingest_lines(rt, source=Rows(rows), seasons=["2023-24"])
    assert (again.stored, again.unchanged, again.published) == (0, 3, 0)

    rows[1] = line(bookmaker="fanduel", line="28.5")  # FanDuel moves its line
    moved = await ingest_lines(rt, source=Rows(rows), seasons=["2023-24"])
    assert (moved.stored, moved.published) == (1, 1)
    assert (probe.lines[-1][1].book, probe.lines[-1][1].line) == ("fanduel", 28.5)


async def test_a_line_read_twice_with_different_values_is_counted_and_the_last_kept(
    wired: tuple[IngestorRuntime, Probe],
) -> None:
    rt, probe = wired
    rows = [line(), line(line="28.5", over_odds="-120")]  # two snapshots of one book's line
    run = await ingest_lines(rt, source=Rows(rows), seasons=["2023-24"])
    assert (run.read, run.stored, run.conflicting, run.published) == (2, 1, 1, 1)
    assert [(p.line, p.over_price) for _, p in probe.lines] == [(28.5, -120)]


async def test_a_line_is_keyed_by_its_player_once_his_box_scores_are_in(
    wired: tuple[IngestorRuntime, Probe],
) -> None:
    rt, probe = wired
    booker = {
        "SEASON": "2023-24",
        "SEASON_TYPE": "Regular Season",
        "GAME_ID": "0022300960",
        "GAME_DATE": "2024-03-15",
        "PLAYER_ID": "1626164",
        "PLAYER_NAME": "Devin Booker",
        "TEAM_ABBREVIATION": "PHX",
        "MATCHUP": "PHX vs. MIN",
        "MIN": "36",
        "PTS": "30",
        "REB": "4",
        "AST": "7",
    }
    await rt.ingest.store_player_games([normalise_player_row(booker, source="files")])
    await ingest_lines(rt, source=Rows([line()]), seasons=["2023-24"])
    [(key, posted)] = probe.lines
    assert (key, posted.player_id) == (b"1626164", 1626164)


async def test_a_row_that_is_not_a_line_goes_to_the_dead_letter_topic(
    wired: tuple[IngestorRuntime, Probe],
) -> None:
    rt, probe = wired
    run = await ingest_lines(rt, source=Rows([line(), line(market="dunks")]), seasons=["2023-24"])
    assert (run.stored, run.rejected, run.published) == (1, 1, 1)
    [letter] = probe.dead
    assert (letter.original_topic, letter.key) == (topics.LINES, "Devin Booker")
    assert letter.error == "lines.csv:3: unknown market 'dunks'"
