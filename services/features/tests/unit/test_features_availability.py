"""Who is out (nba.availability.v1) through the engine with the repository in memory: a report
is league data, so one that comes after the vectors of its day were computed makes them stale
and the reconcile recomputes them to what a batch build gives; one that comes first is used
straight away; a replay changes nothing; another instance learns it from the store."""

import datetime as dt

import pytest

from statmuse_features.engine import Engine
from statmuse_shared.contract import ids
from statmuse_shared.contract.messages import Absence, AvailabilityReported, RecentForm

from .fakes import Crash, Faulty, InMemoryFeatures, batch_build, differing, stored
from .season import Game, boxes, plays, schedule

SEASON = "2023-24"
GAMES = schedule(SEASON, 8)  # BOS plays every day
TEAMS = [b for g in GAMES for b in boxes(g)]
X, Y = 1, 2  # both play for BOS; Y sits out the sixth day
LINES = list(plays(GAMES, "BOS", X)) + [
    p for p in plays(GAMES, "BOS", Y) if p.game_date != GAMES[0].day + dt.timedelta(days=5)
]
DAY = GAMES[0].day + dt.timedelta(days=5)
FORM = RecentForm(games=5, minutes=30.0, points=12.0, rebounds=5.0, assists=4.0)


def bos_game(day: dt.date) -> Game:
    return next(g for g in GAMES if g.day == day and "BOS" in (g.home, g.away))


def report(day: dt.date, *absent: Absence) -> AvailabilityReported:
    game = bos_game(day)
    return AvailabilityReported(
        event_id=ids.event_id("test", game.key, "BOS", str(len(absent))),
        source="test",
        season=SEASON,
        season_type="Regular Season",
        game_key=game.key,
        game_date=day,
        team="BOS",
        opponent=game.away if game.home == "BOS" else game.home,
        absences=list(absent),
    )


Y_OUT = Absence(player_id=Y, player_name="Player 2", status="out", recent=FORM)
# Listed but not out: not counted.
MAYBE = Absence(player_id=7, player_name="Player 7", status="questionable", recent=FORM)
REPORTS = [report(DAY, Y_OUT, MAYBE), report(DAY - dt.timedelta(days=1))]


def out_of(features: InMemoryFeatures, player_id: int, day: dt.date) -> list[float | None]:
    v = stored(features)[(player_id, day)]
    return [v.features[n] for n in ("out_n", "out_minutes", "out_points", "out_assists")]


async def test_a_late_report_makes_its_day_stale_and_the_reconcile_recomputes_it() -> None:
    features = InMemoryFeatures()
    engine = Engine(features)
    await engine.load()
    await engine.process(LINES, TEAMS)
    await engine.reconcile()
    assert out_of(features, X, DAY) == [None] * 4  # no report yet
    assert await engine.reported(REPORTS) == 2
    assert engine.stale == {SEASON: DAY - dt.timedelta(days=1)}  # the day itself, not the next
    await engine.reconcile()
    assert not engine.stale
    assert out_of(features, X, DAY) == [1.0, 30.0, 12.0, 4.0]
    assert out_of(features, X, DAY - dt.timedelta(days=1)) == [0.0] * 4  # nobody out
    assert out_of(features, X, DAY + dt.timedelta(days=1)) == [None] * 4  # no report
    assert not differing(features, await batch_build(features))


async def test_a_report_that_comes_first_is_used_straight_away() -> None:
    features = InMemoryFeatures()
    engine = Engine(features)
    await engine.load()
    await engine.reported(REPORTS)
    await engine.process(LINES, TEAMS)
    assert out_of(features, X, DAY) == [1.0, 30.0, 12.0, 4.0]
    await engine.reconcile()
    assert not differing(features, await batch_build(features))


async def test_a_replayed_report_changes_nothing_and_a_changed_one_is_stale_again() -> None:
    features = InMemoryFeatures()
    engine = Engine(features)
    await engine.load()
    await engine.process(LINES, TEAMS)
    await engine.reported(REPORTS)
    await engine.reconcile()
    snapshot = dict(features.vectors)
    assert await engine.reported(REPORTS) == 0
    assert await engine.reconcile() == []
    assert features.vectors == snapshot
    # Y is back after all: an empty list for the day.
    assert await engine.reported([report(DAY)]) == 1
    published = await engine.reconcile()
    assert (X, DAY) in {(v.player_id, v.as_of) for v in published}
    assert out_of(features, X, DAY) == [0.0] * 4


async def test_another_instance_learns_a_report_from_the_store() -> None:
    features = InMemoryFeatures()
    first, second = Engine(features), Engine(features)
    for engine in (first, second):
        await engine.load()
    await second.process(LINES, TEAMS)
    await first.reported(REPORTS)  # read by the first instance only
    await second.reconcile()
    assert second.league.out("BOS", DAY) is not None
    assert out_of(features, X, DAY) == [1.0, 30.0, 12.0, 4.0]
    assert not differing(features, await batch_build(features))


async def test_a_check_that_failed_is_made_on_the_next_refresh_whatever_comes() -> None:
    """An instance reads another's report on its idle refresh, then fails to mark what the
    report makes stale (the store went away): the next refresh, with nothing new in the
    league, must still make that check, or the day's vectors stay as computed without it."""
    features = InMemoryFeatures()
    store = Faulty(features)
    owner, other = Engine(store), Engine(features, owned=frozenset())
    for engine in (owner, other):
        await engine.load()
    await owner.process(LINES, TEAMS)
    await owner.reconcile()
    await other.reported(REPORTS)  # stored by an instance that owns none of the players
    store.fail_on = "mark_stale"
    with pytest.raises(Crash):
        await owner.reconcile()
    await owner.reconcile()
    assert out_of(features, X, DAY) == [1.0, 30.0, 12.0, 4.0]
    assert not differing(features, await batch_build(features))
