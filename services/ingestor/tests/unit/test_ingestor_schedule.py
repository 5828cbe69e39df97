"""The schedule: rows validated into GameScheduled, derived from the bundled box scores, read
from a recorded ScheduleLeagueV2 response, and stored and published once per change (through
FastStream's TestKafkaBroker over the in-memory schedule)."""

import copy
import datetime as dt
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import responses
from faststream.kafka import KafkaMessage, TestKafkaBroker

from statmuse_ingestor.nba_api_source import NbaApiSource, SourcePayloadError
from statmuse_ingestor.ratelimit import RetryPolicy, TokenBucket
from statmuse_ingestor.runtime import IngestorRuntime
from statmuse_ingestor.schedule import ingest_schedule
from statmuse_ingestor.schedule_rows import from_box_scores, normalise_schedule_row
from statmuse_ingestor.service import RejectedRow
from statmuse_ingestor.sources import FileSource, RawRow, SourceError
from statmuse_shared.contract import topics
from statmuse_shared.contract.messages import DeadLetter, GameScheduled

from .fakes import FakeTime, memory_runtime

ROOT = Path(__file__).resolve().parents[4]
DATA = ROOT / "data" / "nba"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "nba_api"
SCHEDULE_URL = "https://stats.nba.com/stats/scheduleleaguev2"


def row(**overrides: str) -> dict[str, str]:
    base = {
        "GAME_ID": "0022300976",
        "GAME_DATE": "2024-03-17",
        "TIP_OFF": "2024-03-17T17:10:27Z",
        "HOME": "MIL",
        "AWAY": "PHX",
        "SEASON": "2023-24",
        "GAME_STATUS": "1",
        "GAME_STATUS_TEXT": "Scheduled",
        "POSTPONED_STATUS": "A",
    }
    return base | overrides


# -- one row ------------------------------------------------------------------------------------


def test_a_row_becomes_the_game_with_its_key_tip_off_and_season_type() -> None:
    game, checksum = normalise_schedule_row(row(), source="nba_api")
    assert game == game.model_copy(
        update={
            "season": "2023-24",
            "season_type": "Regular Season",
            "game_id": "0022300976",
            "game_key": "2024-03-17:PHX@MIL",
            "game_date": dt.date(2024, 3, 17),
            "tip_off": dt.datetime(2024, 3, 17, 17, 10, 27, tzinfo=dt.UTC),
            "home": "MIL",
            "away": "PHX",
            "status": "scheduled",
            "source": "nba_api",
        }
    )
    assert len(checksum) == 64


@pytest.mark.parametrize(
    ("overrides", "status"),
    [
        ({"GAME_STATUS": "3", "GAME_STATUS_TEXT": "Final"}, "final"),
        ({"GAME_STATUS": "2", "GAME_STATUS_TEXT": "Q3 5:12"}, "scheduled"),
        ({"GAME_STATUS_TEXT": "PPD"}, "postponed"),
        ({"GAME_STATUS_TEXT": "Postponed"}, "postponed"),
        ({"POSTPONED_STATUS": "P"}, "postponed"),
        ({"GAME_STATUS_TEXT": "Cancelled"}, "cancelled"),
        ({"STATUS": "scheduled", "GAME_STATUS": "", "GAME_STATUS_TEXT": ""}, "scheduled"),
    ],
)
def test_the_status_reads_the_sources_own_columns(overrides: dict[str, str], status: str) -> None:
    assert normalise_schedule_row(row(**overrides), source="nba_api").game.status == status


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"HOME": ""}, "missing critical fields: HOME"),
        ({"GAME_DATE": "03/17/2024"}, "GAME_DATE is not a date: '03/17/2024'"),
        ({"GAME_ID": "0012300001"}, "is not a regular-season, play-in or playoff game"),
        ({"AWAY": "MIL"}, "MIL cannot play itself"),
        ({"TIP_OFF": "tonight"}, "TIP_OFF is not a date and time: 'tonight'"),
        ({"GAME_STATUS": "9"}, "GAME_STATUS not understood: '9'"),
        ({"STATUS": "delayed"}, "STATUS must be scheduled, postponed, cancelled or final"),
        ({"HOME": "MILWAUKEE"}, "invalid GameScheduled: home"),
    ],
)
def test_a_row_that_is_not_a_game_is_rejected_with_the_reason(
    overrides: dict[str, str], reason: str
) -> None:
    with pytest.raises(RejectedRow) as caught:
        normalise_schedule_row(row(**overrides), source="nba_api")
    assert reason in caught.value.reason


def test_the_checksum_is_of_the_game_not_of_who_said_it() -> None:
    files = normalise_schedule_row(row(), source="files")
    live = normalise_schedule_row(row(), source="nba_api")
    moved = normalise_schedule_row(row(GAME_DATE="2024-03-19"), source="nba_api")
    assert files.checksum == live.checksum
    assert files.game.event_id == live.game.event_id
    assert moved.checksum != live.checksum
    assert moved.game.event_id != live.game.event_id


# -- the files source: the schedule the bundled box scores imply ---------------------------------


def test_the_bundled_team_logs_give_every_game_once_in_date_order() -> None:
    rows = list(FileSource(DATA).schedule_rows("2023-24"))
    games = [normalise_schedule_row(r.record, source="files").game for r in rows]

    ids = [g.game_id for g in games]
    assert len(ids) == len(set(ids)) == 1319  # 1230 regular season, 82 playoff, 6 play-in, 1 Cup
    by_type = {t: sum(g.season_type == t for g in games) for t in {g.season_type for g in games}}
    assert by_type == {"Regular Season": 1230, "Playoffs": 82, "Play-In": 6, "Cup Final": 1}
    assert [g.game_date for g in games] == sorted(g.game_date for g in games)
    opener = next(g for g in games if g.game_id == "0022300061")
    assert (opener.game_date, opener.away, opener.home) == (dt.date(2023, 10, 24), "LAL", "DEN")
    assert opener.game_key == "2023-10-24:LAL@DEN"  # the box scores' key for the same game
    assert {g.status for g in games} == {"scheduled"}
    assert rows[0].location.startswith("2023-24.csv.gz:")


def test_a_window_of_the_bundled_season_is_that_days_slate() -> None:
    day = dt.date(2024, 3, 17)
    rows = list(FileSource(DATA).schedule_rows("2023-24", date_from=day, date_to=day))
    matchups = {(r.record["AWAY"], r.record["HOME"]) for r in rows}
    assert matchups == {
        ("PHX", "MIL"),
        ("MIA", "DET"),
        ("DEN", "DAL"),
        ("BOS", "WAS"),
        ("TOR", "ORL"),
        ("BKN", "SAS"),
        ("ATL", "LAC"),
    }


def test_a_season_with_no_team_logs_takes_its_schedule_from_the_player_logs(
    tmp_path: Path,
) -> None:
    (tmp_path / "player_game_logs").mkdir()
    (tmp_path / "player_game_logs" / "2023-24.csv.gz").symlink_to(
        DATA / "player_game_logs" / "2023-24.csv.gz"
    )
    from_players = [r.record for r in FileSource(tmp_path).schedule_rows("2023-24")]
    from_teams = {r.record["GAME_ID"]: r.record for r in FileSource(DATA).schedule_rows("2023-24")}
    # The bundled player logs carry a GAME_ID only on regular-season rows (and not on every
    # one): a game none of whose rows has one cannot be a schedule row.
    assert len(from_players) == 1230
    assert all(record == from_teams[record["GAME_ID"]] for record in from_players)


def test_a_season_with_no_files_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no player game log for 2023-24"):
        list(FileSource(tmp_path).schedule_rows("2023-24"))


def box(game_id: str, day: str, matchup: str) -> RawRow:
    team = matchup.split(" ")[0]
    record = {
        "SEASON": "2023-24",
        "GAME_ID": game_id,
        "GAME_DATE": day,
        "TEAM_ABBREVIATION": team,
        "MATCHUP": matchup,
    }
    return RawRow(f"t.csv:{game_id}:{team}", record)


def test_box_scores_that_disagree_about_a_game_make_a_row_that_is_rejected() -> None:
    rows = list(
        from_box_scores(
            [
                box("0022300001", "2023-10-24", "DEN vs. LAL"),
                box("0022300001", "2023-10-25", "LAL @ DEN"),  # a day later: which is right?
                box("0022300002", "2023-10-24", "GSW vs. PHX"),
                box("0022300002", "2023-10-24", "PHX @ GSW"),
                box("", "2023-10-24", "BOS vs. NYK"),  # no game id: no schedule row
            ]
        )
    )
    assert [r.record["GAME_ID"] for r in rows] == ["0022300001", "0022300002"]
    with pytest.raises(RejectedRow, match="box scores of 0022300001 disagree: 2023-10-24"):
        normalise_schedule_row(rows[0].record, source="files")
    assert normalise_schedule_row(rows[1].record, source="files").game.home == "GSW"


# -- the live source, on a recorded response ----------------------------------------------------


def recorded() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (FIXTURES / "scheduleleaguev2_2023-24.json").read_text(encoding="utf-8")
    )
    return data


def live_source(time: FakeTime) -> NbaApiSource:
    return NbaApiSource(
        bucket=TokenBucket.every(0.6, clock=time.monotonic, sleep=time.sleep),
        retry=RetryPolicy(attempts=3, base_s=1.0, cap_s=4.0, jitter=lambda: 0.5),
        sleep=time.sleep,
        clock=time.monotonic,
    )


@pytest.fixture
def mocked(monkeypatch: pytest.MonkeyPatch) -> Iterator[responses.RequestsMock]:
    monkeypatch.delenv("NBA_API_REQUIRE_PROXY", raising=False)
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def serve(mocked: responses.RequestsMock, body: Any, **kwargs: Any) -> None:
    match = [responses.matchers.query_param_matcher({"LeagueID": "00", "Season": "2023-24"})]
    mocked.add(responses.GET, SCHEDULE_URL, json=body, match=match, **kwargs)


def test_the_live_schedule_is_every_game_of_the_season_but_preseason(
    mocked: responses.RequestsMock,
) -> None:
    serve(mocked, recorded())
    rows = list(live_source(FakeTime()).schedule_rows("2023-24"))
    games = [normalise_schedule_row(r.record, source="nba_api").game for r in rows]

    assert len(games) == 15  # 7 + 8; the preseason game is left out
    played = [g for g in games if g.game_date == dt.date(2024, 3, 17)]
    tonight = [g for g in games if g.game_date == dt.date(2024, 3, 18)]
    assert {g.status for g in played} == {"final"}
    assert {g.status for g in tonight} == {"scheduled"}
    lakers = next(g for g in tonight if g.home == "LAL")
    assert (lakers.away, lakers.game_key) == ("ATL", "2024-03-18:ATL@LAL")
    assert lakers.tip_off == dt.datetime(2024, 3, 19, 2, 40, tzinfo=dt.UTC)
    assert rows[0].location == "nba_api:scheduleleaguev2:2023-24:game 2"
    # The same games as the files source derives from the box scores, day for day.
    for day, derived in ((dt.date(2024, 3, 17), played), (dt.date(2024, 3, 18), tonight)):
        files = FileSource(DATA).schedule_rows("2023-24", date_from=day, date_to=day)
        assert {r.record["GAME_ID"] for r in files} == {g.game_id for g in derived}


def test_the_live_schedule_keeps_to_the_window(mocked: responses.RequestsMock) -> None:
    serve(mocked, recorded())
    day = dt.date(2024, 3, 18)
    rows = list(live_source(FakeTime()).schedule_rows("2023-24", date_from=day))
    assert {r.record["GAME_DATE"] for r in rows} == {"2024-03-18"}


def test_a_throttled_schedule_request_is_retried_after_a_backoff(
    mocked: responses.RequestsMock,
) -> None:
    serve(mocked, {"message": "slow down"}, status=429)
    serve(mocked, recorded())
    time = FakeTime()
    rows = list(live_source(time).schedule_rows("2023-24"))
    assert len(rows) == 15
    assert 0.5 in time.sleeps  # the first backoff (base 1 s x jitter 0.5)


def test_a_schedule_response_without_its_games_is_a_payload_error(
    mocked: responses.RequestsMock,
) -> None:
    serve(mocked, {"resultSets": []})
    with pytest.raises(SourcePayloadError, match="no 'leagueSchedule' object"):
        list(live_source(FakeTime()).schedule_rows("2023-24"))


def test_a_bad_season_fails_at_the_call() -> None:
    with pytest.raises(ValueError, match="not a season"):
        live_source(FakeTime()).schedule_rows("2023")


# -- stored and published once per change --------------------------------------------------------


@dataclass
class Probe:
    games: list[tuple[bytes, GameScheduled]] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)


@dataclass
class Recorded:
    """A source that serves schedule rows from a ScheduleLeagueV2 response held in memory."""

    body: dict[str, Any]
    name: str = "nba_api"

    def schedule_rows(
        self, season: str, *, date_from: dt.date | None = None, date_to: dt.date | None = None
    ) -> Iterator[RawRow]:
        with responses.RequestsMock() as mocked:
            serve(mocked, self.body)
            rows = list(
                live_source(FakeTime()).schedule_rows(season, date_from=date_from, date_to=date_to)
            )
        return iter(rows)


@pytest.fixture
async def wired(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[IngestorRuntime, Probe]]:
    monkeypatch.delenv("NBA_API_REQUIRE_PROXY", raising=False)
    rt = memory_runtime()
    probe = Probe()

    @rt.broker.subscriber(topics.SCHEDULE, group_id="probe")
    async def games(body: GameScheduled, msg: KafkaMessage) -> None:
        probe.games.append((msg.raw_message.key, body))

    @rt.broker.subscriber(topics.dead_letter(topics.SCHEDULE), group_id="probe-dlq")
    async def dead(body: DeadLetter) -> None:
        probe.dead.append(body)

    async with TestKafkaBroker(rt.broker):
        yield rt, probe


def game_of(body: dict[str, Any], game_id: str) -> dict[str, Any]:
    days = body["leagueSchedule"]["gameDates"]
    found: dict[str, Any] = next(g for d in days for g in d["games"] if g["gameId"] == game_id)
    return found


async def test_each_game_is_published_once_keyed_by_its_id(
    wired: tuple[IngestorRuntime, Probe],
) -> None:
    rt, probe = wired
    source = Recorded(recorded())
    first = await ingest_schedule(rt, source=source, seasons=["2023-24"])  # type: ignore[arg-type]
    assert first.counts() == {
        "read": 15,
        "stored": 15,
        "unchanged": 0,
        "rejected": 0,
        "published": 15,
    }
    assert [k for k, _ in probe.games] == [g.game_id.encode() for _, g in probe.games]
    assert [g.game_date for _, g in probe.games] == sorted(g.game_date for _, g in probe.games)

    again = await ingest_schedule(rt, source=source, seasons=["2023-24"])  # type: ignore[arg-type]
    assert (again.stored, again.unchanged, again.published) == (0, 15, 0)
    assert len(probe.games) == 15


async def test_a_postponed_then_moved_game_is_published_again_under_its_id(
    wired: tuple[IngestorRuntime, Probe],
) -> None:
    rt, probe = wired
    body = recorded()
    await ingest_schedule(rt, source=Recorded(body), seasons=["2023-24"])  # type: ignore[arg-type]

    postponed = copy.deepcopy(body)
    game = game_of(postponed, "0022300990")  # ATL @ LAL, 2024-03-18
    game.update(gameStatusText="PPD", postponedStatus="P")
    run = await ingest_schedule(rt, source=Recorded(postponed), seasons=["2023-24"])  # type: ignore[arg-type]
    assert (run.stored, run.published) == (1, 1)

    moved = copy.deepcopy(body)
    game = game_of(moved, "0022300990")
    game.update(gameDateEst="2024-04-09T00:00:00Z", gameDateTimeUTC="2024-04-10T02:00:00Z")
    await ingest_schedule(rt, source=Recorded(moved), seasons=["2023-24"])  # type: ignore[arg-type]

    history = [g for k, g in probe.games if k == b"0022300990"]
    assert [(g.status, g.game_date) for g in history] == [
        ("scheduled", dt.date(2024, 3, 18)),
        ("postponed", dt.date(2024, 3, 18)),
        ("scheduled", dt.date(2024, 4, 9)),
    ]
    assert history[-1].game_key == "2024-04-09:ATL@LAL"
    assert len({g.event_id for g in history}) == 3


async def test_a_row_that_is_not_a_game_goes_to_the_dead_letter_topic(
    wired: tuple[IngestorRuntime, Probe],
) -> None:
    rt, probe = wired
    body = recorded()
    game_of(body, "0022300990")["homeTeam"]["teamTricode"] = ""
    run = await ingest_schedule(rt, source=Recorded(body), seasons=["2023-24"])  # type: ignore[arg-type]

    assert (run.read, run.stored, run.rejected, run.published) == (15, 14, 1, 14)
    [letter] = probe.dead
    assert letter.original_topic == topics.SCHEDULE
    assert letter.key == "0022300990"
    assert letter.error.endswith("missing critical fields: HOME")
    assert "0022300990" not in {g.game_id for _, g in probe.games}
