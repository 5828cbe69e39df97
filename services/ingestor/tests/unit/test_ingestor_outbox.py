"""Ingest runs through FastStream's TestKafkaBroker, with the repositories in memory: rows are
stored, then published from the outbox in game-date order with their keys and marked; a second
run publishes nothing; rejects go to the dead-letter topic; a publish that is not acknowledged
in time leaves exactly the unacknowledged rows for the next run."""

import asyncio
import base64
import datetime as dt
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from faststream.kafka import KafkaMessage, TestKafkaBroker

from statmuse_ingestor import metrics
from statmuse_ingestor.backfill import backfill, ingest_day, publish_outbox
from statmuse_ingestor.runtime import IngestorRuntime
from statmuse_ingestor.service import normalise_player_row
from statmuse_shared.contract import topics
from statmuse_shared.contract.messages import DeadLetter, PlayerGameIngested, TeamGameIngested
from statmuse_shared.platform.broker import PublishTimeout

from .fakes import RAW_PARTITIONS, InMemoryIngest, InMemoryReports, MemorySource, memory_runtime

Row = Callable[..., dict[str, str]]
SEASON = "2023-24"
OPENING = dt.date(2023, 10, 24)


@dataclass
class Probe:
    """What the ingestor published, read back from the test broker: (key, message)."""

    games: list[tuple[bytes, PlayerGameIngested | TeamGameIngested]] = field(default_factory=list)
    partitions: list[int] = field(default_factory=list)  # of each game message
    dead: list[tuple[bytes, DeadLetter]] = field(default_factory=list)
    block_at: int | None = None  # the game message (1-based) whose delivery never completes

    def game_keys(self) -> list[tuple[str, str]]:
        """(game key, key) of each game message, in the order published."""
        return [(m.game_key, k.decode()) for k, m in self.games]


@pytest.fixture
async def wired() -> AsyncIterator[tuple[IngestorRuntime, Probe]]:
    rt = memory_runtime()
    probe = Probe()

    @rt.broker.subscriber(topics.GAMES_RAW, group_id="probe")
    async def games(body: dict[str, Any], msg: KafkaMessage) -> None:
        if probe.block_at == len(probe.games) + 1:
            await asyncio.Event().wait()  # never acknowledged
        model = PlayerGameIngested if body["kind"] == "player_game" else TeamGameIngested
        probe.games.append((msg.raw_message.key, model.model_validate(body)))
        probe.partitions.append(msg.raw_message.partition)

    @rt.broker.subscriber(topics.dead_letter(topics.GAMES_RAW), group_id="probe-dlq")
    async def dead(body: DeadLetter, msg: KafkaMessage) -> None:
        probe.dead.append((msg.raw_message.key, body))

    async with TestKafkaBroker(rt.broker):
        yield rt, probe


def repo(rt: IngestorRuntime) -> InMemoryIngest:
    assert isinstance(rt.ingest, InMemoryIngest)
    return rt.ingest


def reports(rt: IngestorRuntime) -> InMemoryReports:
    assert isinstance(rt.reports, InMemoryReports)
    return rt.reports


def lebron_on(row: Row, day: dt.date, opponent: str) -> dict[str, str]:
    """LeBron's opening-night box score, moved to another day against another team."""
    return row(
        "lebron_lal_away", GAME_DATE=day.isoformat(), MATCHUP=f"LAL vs. {opponent}", GAME_ID=""
    )


def team_row(team: str, matchup: str, day: dt.date, points: int) -> dict[str, str]:
    return {
        "SEASON": SEASON,
        "SEASON_TYPE": "Regular Season",
        "GAME_ID": "",
        "GAME_DATE": day.isoformat(),
        "TEAM_ID": "1610612743" if team == "DEN" else "1610612747",
        "TEAM_ABBREVIATION": team,
        "MATCHUP": matchup,
        "WL": "W" if team == "DEN" else "L",
        "PTS": str(points),
        "PLUS_MINUS": "12" if team == "DEN" else "-12",
    }


def season_source(row: Row) -> MemorySource:
    """Three days of 2023-24, the rows out of date order, and opening night's team boxes."""
    day2, day3 = OPENING + dt.timedelta(days=2), OPENING + dt.timedelta(days=5)
    return MemorySource(
        players={
            SEASON: [
                lebron_on(row, day3, "ORL"),
                row("jokic_den_home"),
                lebron_on(row, day2, "PHX"),
                row("lebron_lal_away"),
                row("jackson_den_home"),
            ]
        },
        teams={
            SEASON: [
                team_row("LAL", "LAL @ DEN", OPENING, 107),
                team_row("DEN", "DEN vs. LAL", OPENING, 119),
            ]
        },
    )


async def test_rows_are_stored_then_published_in_game_date_order_with_their_keys(
    wired: tuple[IngestorRuntime, Probe], row: Row
) -> None:
    rt, probe = wired
    summary = await backfill(rt, source=season_source(row), seasons=[SEASON])

    assert (summary.read, summary.stored, summary.team_stored, summary.rejected) == (5, 5, 2, 0)
    # Seven rows; each team box goes to every partition of the raw topic (three here).
    assert (summary.published, summary.messages) == (7, 5 + 2 * RAW_PARTITIONS)
    opening = f"{OPENING}:LAL@DEN"
    # The day's players in (game, player id) order, then its teams; then the later days.
    assert probe.game_keys() == [
        (opening, "2544"),
        (opening, "202704"),
        (opening, "203999"),
        *[(opening, "team:DEN")] * RAW_PARTITIONS,
        *[(opening, "team:LAL")] * RAW_PARTITIONS,
        ("2023-10-26:PHX@LAL", "2544"),
        ("2023-10-29:ORL@LAL", "2544"),
    ]
    # A player's box score goes to his key's partition (the producer's choice, 0 in the test
    # broker), a team's to each partition in turn.
    assert probe.partitions[3:9] == [*range(RAW_PARTITIONS)] * 2
    # What is published is what was stored, event id included; all of it is marked.
    stored = {r.payload for r in repo(rt).rows.values()}
    assert {m.model_dump_json() for _, m in probe.games} == stored
    assert repo(rt).waiting() == []
    [run] = repo(rt).runs.values()
    assert (run.status, run.counts["published"], run.counts["read"]) == ("succeeded", 7, 5)


async def test_seasons_go_out_in_time_order_each_published_before_the_next_is_read(
    wired: tuple[IngestorRuntime, Probe], row: Row
) -> None:
    """Consumers start on a season while the next is read, and see the seasons in date order
    whatever order they were asked in."""
    rt, probe = wired
    later = "2024-25"
    next_opening = dt.date(2024, 10, 22)
    source = season_source(row)
    source.players[later] = [
        row("lebron_lal_away", SEASON=later, GAME_DATE=next_opening.isoformat(), GAME_ID="")
    ]
    source.teams[later] = []
    published_when_asked: dict[str, int] = {}
    player_rows = source.player_rows

    def counting(season: str, **window: Any) -> Any:
        published_when_asked[season] = len(probe.games)
        return player_rows(season, **window)

    source.player_rows = counting  # type: ignore[method-assign]

    summary = await backfill(rt, source=source, seasons=[later, SEASON])

    first = 5 + 2 * RAW_PARTITIONS  # 2023-24's messages
    assert published_when_asked == {SEASON: 0, later: first}
    assert (summary.published, summary.messages) == (8, first + 1)
    days = [m.game_date for _, m in probe.games]
    assert days == sorted(days)
    assert days[-1] == next_opening


async def test_rows_an_earlier_run_left_unpublished_go_out_in_date_order_with_the_rest(
    wired: tuple[IngestorRuntime, Probe], row: Row
) -> None:
    """An earlier run stored a later season's row and died before publishing it: this run
    publishes once, at the end, so that row does not go out ahead of the seasons before it."""
    rt, probe = wired
    later = "2024-25"
    left = row("lebron_lal_away", SEASON=later, GAME_DATE="2024-10-22", GAME_ID="")
    await repo(rt).store_player_games([normalise_player_row(left, source="files", checksum="x")])
    assert len(repo(rt).waiting()) == 1

    source = season_source(row)
    source.players["2022-23"] = [
        row("lebron_lal_away", SEASON="2022-23", GAME_DATE="2022-10-18", GAME_ID="")
    ]
    source.teams["2022-23"] = []
    summary = await backfill(rt, source=source, seasons=["2022-23", SEASON])

    assert summary.published == 9
    days = [m.game_date for _, m in probe.games]
    assert days == sorted(days)
    assert days[-1] == dt.date(2024, 10, 22)
    assert repo(rt).waiting() == []


async def test_a_second_run_stores_and_publishes_nothing(
    wired: tuple[IngestorRuntime, Probe], row: Row
) -> None:
    rt, probe = wired
    await backfill(rt, source=season_source(row), seasons=[SEASON])
    published = len(probe.games)

    again = await backfill(rt, source=season_source(row), seasons=[SEASON])

    assert (again.stored, again.unchanged, again.team_stored, again.published) == (0, 5, 0, 0)
    assert len(probe.games) == published
    assert probe.dead == []


async def test_rejects_go_to_the_dead_letter_topic_and_the_good_rows_are_published(
    wired: tuple[IngestorRuntime, Probe], row: Row
) -> None:
    rt, probe = wired
    missing = row("jokic_den_home", PLAYER_ID="")
    negative = row("jackson_den_home", PTS="-3")
    source = MemorySource(players={SEASON: [row("lebron_lal_away"), missing, negative]})

    summary = await backfill(rt, source=source, seasons=[SEASON])

    assert (summary.read, summary.stored, summary.rejected, summary.published) == (3, 1, 2, 1)
    assert summary.reject_reasons == {
        "player: missing critical fields": 1,
        "player: negative stats": 1,
    }
    assert [k for k, _ in probe.games] == [b"2544"]
    assert [k for k, _ in probe.dead] == [b"rejected", b"rejected"]
    first, second = (letter for _, letter in probe.dead)
    assert first.error == "player-2023-24.csv:3: player: missing critical fields: PLAYER_ID"
    assert second.error == "player-2023-24.csv:4: player: negative stats: PTS"
    assert (first.key, second.key) == ("DEN", "202704")  # no PLAYER_ID: the team
    assert all(d.original_topic == topics.GAMES_RAW for _, d in probe.dead)
    assert all(d.consumer == "ingestor:files" for _, d in probe.dead)
    assert json.loads(base64.b64decode(second.payload_b64)) == negative
    [run_id] = repo(rt).runs
    assert [(r, reason.split(":")[1]) for r, _, _, reason in repo(rt).rejects] == [
        (run_id, " missing critical fields"),
        (run_id, " negative stats"),
    ]


async def test_a_publish_not_acknowledged_in_time_leaves_exactly_the_unacknowledged_rows(
    wired: tuple[IngestorRuntime, Probe], row: Row
) -> None:
    rt, probe = wired
    days = [OPENING + dt.timedelta(days=i) for i in range(6)]
    games = [normalise_player_row(lebron_on(row, d, "PHX"), source="files") for d in days]
    await rt.ingest.store_player_games(games)
    probe.block_at = 5  # the third chunk of two: its first message is never acknowledged

    with pytest.raises(PublishTimeout):
        await publish_outbox(rt, chunk=2, ack_seconds=0.2)

    # The two chunks acknowledged are marked; the one in flight and the rest are not.
    assert [m.game_date for _, m in probe.games] == days[:4]
    left = [key for _, key, _ in repo(rt).waiting()]
    assert left == [g.game.game_key for g in games[4:]]

    # The next run publishes exactly those.
    probe.block_at = None
    assert await publish_outbox(rt, chunk=2, ack_seconds=0.2) == (2, 2)
    assert [m.game_date for _, m in probe.games[4:]] == days[4:]
    assert repo(rt).waiting() == []


async def test_a_failed_run_is_recorded_and_measured_and_raises(
    wired: tuple[IngestorRuntime, Probe], row: Row
) -> None:
    rt, probe = wired
    failures = metrics.SOURCE_FAILURES.labels("files")._value.get()
    source = MemorySource(players={}, fail="stats.nba.com unreachable")

    with pytest.raises(Exception, match="unreachable"):
        await backfill(rt, source=source, seasons=[SEASON])

    [run] = repo(rt).runs.values()
    assert run.status == "failed"
    assert "unreachable" in (run.error or "")
    assert metrics.SOURCE_FAILURES.labels("files")._value.get() == failures + 1
    [(measured, hours)] = reports(rt).measured
    assert (measured.runs, measured.runs_failed, hours) == (1, 1, 24)
    assert probe.games == []


async def test_quality_is_measured_after_each_run(
    wired: tuple[IngestorRuntime, Probe], row: Row
) -> None:
    rt, _ = wired
    source = MemorySource(
        players={SEASON: [row("lebron_lal_away"), row("jokic_den_home", PLAYER_ID="")]}
    )

    await backfill(rt, source=source, seasons=[SEASON])

    [(measured, _)] = reports(rt).measured
    assert (measured.runs, measured.rows_read, measured.rows_missing) == (1, 2, 1)
    assert measured.last_game_date == OPENING
    assert metrics.MISSING_RATIO._value.get() == pytest.approx(0.5)


async def test_a_day_is_its_season_and_only_that_day(
    wired: tuple[IngestorRuntime, Probe], row: Row
) -> None:
    rt, probe = wired
    source = season_source(row)
    day = OPENING + dt.timedelta(days=2)

    summary = await ingest_day(rt, source=source, day=day)

    assert source.asked == [("player", SEASON, day, day), ("team", SEASON, day, day)]
    assert (summary.read, summary.stored) == (1, 1)
    assert probe.game_keys() == [("2023-10-26:PHX@LAL", "2544")]
    [run] = repo(rt).runs.values()
    assert run.params == {
        "seasons": [SEASON],
        "teams": True,
        "date_from": str(day),
        "date_to": str(day),
    }
