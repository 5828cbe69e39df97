"""Availability: the files source's stand-in (rotation players missing from the box score) on
made-up box scores and on the bundled season, the reports it makes, and storing and publishing
them once per change (TestKafkaBroker over the in-memory feeds)."""

import csv
import datetime as dt
import gzip
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from faststream.kafka import KafkaMessage, TestKafkaBroker

from statmuse_ingestor.availability import ingest_availability
from statmuse_ingestor.availability_rows import absences_from_box_scores, normalise_availability
from statmuse_ingestor.runtime import IngestorRuntime
from statmuse_ingestor.sources import FileSource, RawRow
from statmuse_shared.contract import topics
from statmuse_shared.contract.messages import AvailabilityReported, DeadLetter

from .fakes import memory_runtime

DATA = Path(__file__).resolve().parents[4] / "data" / "nba"
START = dt.date(2023, 11, 1)


def box(
    day: int, player: int, team: str, opp: str, minutes: int, season: str = "2023-24"
) -> RawRow:
    """Player `player` of `team` played `minutes` at home against `opp`, `day` days after
    START (season 2023-24 unless told)."""
    date = (START + dt.timedelta(days=day)).isoformat()
    if season != "2023-24":
        date = (dt.date(2024, 11, 1) + dt.timedelta(days=day)).isoformat()
    record = {
        "SEASON": season,
        "SEASON_TYPE": "Regular Season",
        "GAME_ID": "",
        "GAME_DATE": date,
        "PLAYER_ID": str(player),
        "PLAYER_NAME": f"Player {player}",
        "TEAM_ABBREVIATION": team,
        "MATCHUP": f"{team} vs. {opp}",
        "MIN": str(minutes),
        "PTS": "10",
        "REB": "5",
        "AST": "3",
    }
    return RawRow(f"p.csv:{day}:{player}", record)


def games(days: range, roster: dict[int, int], team: str = "DEN", opp: str = "LAL") -> list[RawRow]:
    """The team's box scores on those days: every player of the roster with his minutes."""
    return [box(d, p, team, opp, m) for d in days for p, m in roster.items()]


def out_by_day(rows: list[RawRow], team: str = "DEN") -> dict[int, list[int]]:
    """Day (since START) -> the players listed out for the team that day."""
    listed: dict[int, list[int]] = {}
    for r in absences_from_box_scores(rows):
        if r.record["TEAM"] != team:
            continue
        day = (dt.date.fromisoformat(r.record["GAME_DATE"]) - START).days
        listed.setdefault(day, [])
        if r.record["PLAYER_ID"]:
            listed[day].append(int(r.record["PLAYER_ID"]))
    return listed


def test_a_rotation_player_missing_from_the_box_score_is_out() -> None:
    rows = games(range(5), {1: 34, 2: 30, 3: 8})  # 3 plays 8 minutes: not rotation
    rows += games(range(5, 6), {2: 30})  # neither 1 nor 3 plays on day 5
    listed = out_by_day(rows)
    assert listed[5] == [1]
    assert all(listed[d] == [] for d in range(5))  # a report for every game, empty or not


def test_the_first_games_of_a_season_list_nobody() -> None:
    rows = games(range(2), {1: 34, 2: 30}) + games(range(2, 3), {2: 30})
    assert out_by_day(rows)[2] == []  # two appearances: not yet three


def test_a_long_absence_drops_out_of_the_rotation() -> None:
    rows = games(range(10), {1: 34, 2: 30}) + games(range(10, 20), {2: 30})
    listed = out_by_day(rows)
    missed = [d for d in range(10, 20) if listed[d] == [1]]
    assert missed == list(range(10, 18))  # 8 games; then fewer than 3 of the last 10


def test_a_player_seen_with_another_team_is_not_out_for_the_old_one() -> None:
    rows = games(range(5), {1: 34, 2: 30})
    rows.append(box(5, 1, "BOS", "NYK", 28))  # traded: plays for Boston on day 5
    rows += games(range(6, 7), {2: 30})
    assert out_by_day(rows)[6] == []
    # Until he is seen elsewhere, he is listed (the stand-in cannot know of the trade).
    rows = games(range(5), {1: 34, 2: 30}) + games(range(5, 6), {2: 30})
    assert out_by_day(rows)[5] == [1]


def test_a_new_season_starts_with_no_rotation() -> None:
    rows = games(range(5), {1: 34, 2: 30})
    rows.append(box(0, 2, "DEN", "LAL", 30, season="2024-25"))
    listed = {
        r.record["GAME_DATE"]: r.record["PLAYER_ID"]
        for r in absences_from_box_scores(rows)
        if r.record["SEASON"] == "2024-25"
    }
    assert listed == {"2024-11-01": ""}


def test_reports_group_the_rows_by_game_and_team() -> None:
    rows = games(range(5), {1: 34, 2: 30}) + games(range(5, 6), {2: 30})
    reports, rejects = normalise_availability(absences_from_box_scores(rows), source="files")
    assert rejects == []
    assert len(reports) == 6
    last = reports[-1].report
    assert (last.team, last.opponent, last.game_key) == ("DEN", "LAL", "2023-11-06:LAL@DEN")
    assert [(a.player_id, a.status) for a in last.absences] == [(1, "out")]
    assert last.absences[0].reason == (
        "not in the box score; rotation: 5 of the team's last 5 games, 34.0 min"
    )


def test_an_absence_carries_his_recent_means_for_the_team() -> None:
    rows = games(range(3), {1: 30, 2: 30}) + games(range(3, 5), {1: 36, 2: 30})
    rows += games(range(5, 6), {2: 30})
    reports, rejects = normalise_availability(absences_from_box_scores(rows), source="files")
    assert rejects == []
    (absent,) = reports[-1].report.absences
    assert absent.recent is not None
    assert absent.recent.model_dump() == {
        "games": 5,
        "minutes": pytest.approx((3 * 30 + 2 * 36) / 5),
        "points": 10.0,
        "rebounds": 5.0,
        "assists": 3.0,
    }


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"RECENT_PTS": ""}, "recent form without RECENT_PTS"),
        ({"RECENT_MIN": "lots"}, "recent form is not numbers"),
        ({"RECENT_REB": "-1"}, "invalid Absence: recent.rebounds"),
        ({"RECENT_GAMES": "0"}, "invalid Absence: recent.games"),
    ],
)
def test_a_broken_recent_form_rejects_its_team_list(change: dict[str, str], reason: str) -> None:
    rows = list(absences_from_box_scores(games(range(5), {1: 34}) + games(range(5, 6), {2: 30})))
    rows[-1].record.update(change)
    reports, rejects = normalise_availability(rows, source="files")
    assert len(reports) == 5
    assert [r for _, r in rejects if not r.startswith(reason)] == []
    assert len(rejects) == 1


def test_a_source_without_recent_form_gives_none() -> None:
    rows = list(absences_from_box_scores(games(range(5), {1: 34}) + games(range(5, 6), {2: 30})))
    for column in ("RECENT_GAMES", "RECENT_MIN", "RECENT_PTS", "RECENT_REB", "RECENT_AST"):
        del rows[-1].record[column]
    reports, rejects = normalise_availability(rows, source="files")
    assert rejects == []
    assert [a.recent for a in reports[-1].report.absences] == [None]


def test_a_bad_row_rejects_its_whole_team_list() -> None:
    rows = list(absences_from_box_scores(games(range(5), {1: 34}) + games(range(5, 6), {2: 30})))
    rows[-1].record["PLAYER_ID"] = "one"
    reports, rejects = normalise_availability(rows, source="files")
    assert len(reports) == 5
    assert [reason for _, reason in rejects] == [
        "PLAYER_ID is not a number: 'one' (box scores of 2023-11-06:LAL@DEN (DEN))"
    ]


# -- on the bundled season ---------------------------------------------------------------------


def test_the_bundled_season_lists_the_stars_who_sat() -> None:
    rows = list(FileSource(DATA).availability_rows("2023-24", date_from=dt.date(2024, 3, 26)))
    reports, rejects = normalise_availability(rows, source="files")
    assert rejects == []
    lakers = {r.report.game_date: r.report for r in reports if r.report.team == "LAL"}
    # LeBron James has no box score on 2024-03-26 (LAL @ MIL) and Anthony Davis none the
    # next day (MEM @ LAL): both rotation players, both listed, and nobody else.
    assert [a.player_name for a in lakers[dt.date(2024, 3, 26)].absences] == ["LeBron James"]
    assert [a.player_name for a in lakers[dt.date(2024, 3, 27)].absences] == ["Anthony Davis"]
    # His recent form: his box scores in the Lakers' last 10 games, read from the file here.
    with gzip.open(DATA / "player_game_logs" / "2023-24.csv.gz", "rt", newline="") as f:
        lakers_rows = [r for r in csv.DictReader(f) if r["TEAM_ABBREVIATION"] == "LAL"]
    last_10 = sorted({r["GAME_DATE"][:10] for r in lakers_rows if r["GAME_DATE"] < "2024-03-26"})
    his = [r for r in lakers_rows if r["PLAYER_NAME"] == "LeBron James"]
    his = [r for r in his if r["GAME_DATE"][:10] in last_10[-10:]]
    recent = lakers[dt.date(2024, 3, 26)].absences[0].recent
    assert recent is not None
    assert recent.games == len(his) >= 3
    for field_, column in (("minutes", "MIN"), ("points", "PTS"), ("assists", "AST")):
        expected = sum(float(r[column]) for r in his) / len(his)
        assert getattr(recent, field_) == pytest.approx(expected, abs=1e-4), field_
    assert min(r.report.game_date for r in reports) == dt.date(2024, 3, 26)


def test_every_game_of_the_bundled_season_has_both_teams_lists() -> None:
    rows = FileSource(DATA).availability_rows("2023-24")
    reports, _ = normalise_availability(rows, source="files")
    by_game: dict[str, set[str]] = {}
    for r in reports:
        by_game.setdefault(r.report.game_key, set()).add(r.report.team)
    assert all(len(teams) == 2 for teams in by_game.values())
    assert len(by_game) == 1312  # every game the player logs have


# -- stored and published once per change --------------------------------------------------------


@dataclass
class Probe:
    reports: list[tuple[bytes, AvailabilityReported]] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)


@dataclass
class Rows:
    rows: list[RawRow]
    name: str = "files"

    def availability_rows(
        self, season: str, *, date_from: dt.date | None = None, date_to: dt.date | None = None
    ) -> Iterator[RawRow]:
        return iter([RawRow(r.location, dict(r.record)) for r in self.rows])


@pytest.fixture
async def wired() -> AsyncIterator[tuple[IngestorRuntime, Probe]]:
    rt = memory_runtime()
    probe = Probe()

    @rt.broker.subscriber(topics.AVAILABILITY, group_id="probe")
    async def reports(body: AvailabilityReported, msg: KafkaMessage) -> None:
        probe.reports.append((msg.raw_message.key, body))

    @rt.broker.subscriber(topics.dead_letter(topics.AVAILABILITY), group_id="probe-dlq")
    async def dead(body: DeadLetter) -> None:
        probe.dead.append(body)

    async with TestKafkaBroker(rt.broker):
        yield rt, probe


async def test_each_list_is_published_once_and_again_when_it_changes(
    wired: tuple[IngestorRuntime, Probe],
) -> None:
    rt, probe = wired
    rows = list(
        absences_from_box_scores(games(range(5), {1: 34, 2: 30}) + games(range(5, 6), {2: 30}))
    )
    first = await ingest_availability(rt, source=Rows(rows), seasons=["2023-24"])
    assert (first.read, first.stored, first.published) == (6, 6, 6)
    assert [k for k, _ in probe.reports] == [r.game_key.encode() for _, r in probe.reports]

    again = await ingest_availability(rt, source=Rows(rows), seasons=["2023-24"])
    assert (again.stored, again.unchanged, again.published) == (0, 6, 0)

    rows[-1].record.update(STATUS="questionable", REASON="Injury/Illness - Left Ankle; Sprain")
    changed = await ingest_availability(rt, source=Rows(rows), seasons=["2023-24"])
    assert (changed.stored, changed.published) == (1, 1)
    assert probe.reports[-1][1].absences[0].status == "questionable"


async def test_a_list_with_a_bad_row_goes_to_the_dead_letter_topic(
    wired: tuple[IngestorRuntime, Probe],
) -> None:
    rt, probe = wired
    rows = list(absences_from_box_scores(games(range(5), {1: 34}) + games(range(5, 6), {2: 30})))
    rows[-1].record["PLAYER_ID"] = "one"
    run = await ingest_availability(rt, source=Rows(rows), seasons=["2023-24"])
    assert (run.stored, run.rejected, run.published) == (5, 1, 5)
    [letter] = probe.dead
    assert (letter.original_topic, letter.key) == (topics.AVAILABILITY, "2023-11-06:LAL@DEN")
    assert letter.error.endswith(
        "PLAYER_ID is not a number: 'one' (box scores of 2023-11-06:LAL@DEN (DEN))"
    )
