"""The engine over the in-memory repository, one rule at a time: the fast path and the rebuild,
a game stored but never given a vector, the partitions a rebalance or a restart hands over
(states dropped, the new owner checking what it takes over), a state that missed a game
another instance stored, and the batch build. Every scenario ends as a batch build of the same
store would (docs/FEATURES.md, "Several instances")."""

import asyncio
import dataclasses
import datetime as dt

import pytest

from statmuse_features.engine import Engine
from statmuse_features.service import partition_of
from statmuse_shared.contract.messages import (
    FeaturesComputed,
    PlayerGameIngested,
    TeamGameIngested,
)
from statmuse_shared.platform.runtime import background

from .fakes import Crash, Faulty, InMemoryFeatures, batch_build, differing, stored
from .season import boxes, plays, schedule

SEASON = "2023-24"
GAMES = schedule(SEASON, 10)  # BOS plays every day
X = 1  # plays for BOS; on raw-topic partition 0 of 3
PARTITIONS = 3
TEAMS = [b for g in GAMES for b in boxes(g)]
LINES = plays(GAMES, "BOS", X)


def engine_of(features: InMemoryFeatures | Faulty, owned: set[int] | None = None) -> Engine:
    """A standalone engine (every player), or a group member assigned `owned`."""
    if owned is None:
        return Engine(features)
    engine = Engine(features, owned=frozenset())
    engine.assign(owned, partitions=PARTITIONS)
    return engine


def test_x_is_on_partition_0() -> None:
    assert partition_of(X, PARTITIONS) == 0


async def test_in_order_games_advance_and_an_older_one_rebuilds() -> None:
    features = InMemoryFeatures()
    store = Faulty(features)
    engine = engine_of(store)
    await engine.load()
    await engine.process([], TEAMS)
    first = await engine.process([LINES[1]], [])
    assert [(v.kind, v.as_of) for v in first] == [
        ("game", LINES[1].game_date),
        ("next", LINES[1].game_date + dt.timedelta(days=1)),
    ]
    assert store.calls.count("histories") == 1  # not in memory: rebuilt from the store
    for line in LINES[2:5]:
        await engine.process([line], [])
    assert store.calls.count("histories") == 1  # the fast path
    # An older game than the state has seen: the player is rebuilt from it on.
    late = await engine.process([LINES[0]], [])
    assert store.calls.count("histories") == 2
    assert [v.as_of for v in late if v.kind == "game"] == [g.game_date for g in LINES[:5]]
    assert late[0].features["career_games"] == 0
    assert late[-1].features["career_games"] == 5
    assert differing(features, await batch_build(features)) == []


async def test_a_replay_stores_and_publishes_nothing() -> None:
    features = InMemoryFeatures()
    engine = engine_of(features)
    await engine.load()
    assert await engine.process(LINES, TEAMS)
    await engine.reconcile()
    before = dict(features.vectors)
    again = engine_of(features)  # a fresh instance reading the topic from the start
    await again.load()
    assert await again.process(LINES, TEAMS) == []
    assert await again.reconcile() == []
    assert features.vectors == before


async def test_a_game_stored_but_never_given_a_vector_is_computed_when_redelivered() -> None:
    features = InMemoryFeatures()
    store = Faulty(features)
    engine = engine_of(store)
    await engine.load()
    await engine.process(LINES[:3], TEAMS)
    store.fail_on = "store_vectors"  # the crash: after the games' commit, before vectors
    with pytest.raises(Crash):
        await engine.process(LINES[3:5], [])
    assert (X, LINES[4].game_key) in features.player_games
    assert (X, LINES[4].game_date) not in stored(features)
    assert X not in engine.players  # the state does not run ahead of the store
    redelivered = await engine.process(LINES[3:5], [])
    assert "games_without_vectors" in store.calls
    assert [v.as_of for v in redelivered if v.kind == "game"] == [
        LINES[3].game_date,
        LINES[4].game_date,
    ]
    assert differing(features, await batch_build(features)) == []


async def test_a_rebalance_drops_the_states_of_a_partition_that_left_even_if_it_came_back() -> None:
    features = InMemoryFeatures()
    a, b = engine_of(features, {0}), engine_of(features, {1, 2})
    for engine in (a, b):
        await engine.load()
    await b.process([], TEAMS)
    await a.process(LINES[:2], [])
    # Partition 0 goes to b, which consumes a game of X, then comes back to a.
    a.assign(set(), partitions=PARTITIONS)
    b.assign({0, 1, 2}, partitions=PARTITIONS)
    await b.process([LINES[2]], [])
    a.assign({0}, partitions=PARTITIONS)
    b.assign({1, 2}, partitions=PARTITIONS)
    [game, _] = await a.process([LINES[3]], [])
    assert game.features["career_games"] == 3, "the game b consumed counts"
    assert differing(features, await batch_build(features)) == []


async def test_a_state_that_missed_a_game_another_instance_stored_is_rebuilt() -> None:
    """b still processes a batch of partition 0 after the group gave it to a (its commit then
    fails and a gets the batch again): a's state of X missed that game."""
    features = InMemoryFeatures()
    a, zombie = engine_of(features, {0}), engine_of(features)
    for engine in (a, zombie):
        await engine.load()
    await a.process(LINES[:2], TEAMS)
    await zombie.process([LINES[2]], [])
    assert await a.process([LINES[2]], []) == []  # stored, with its vector: nothing to do
    assert X not in a.players
    [game, _] = await a.process([LINES[3]], [])
    assert game.features["career_games"] == 3
    assert differing(features, await batch_build(features)) == []


def late_box() -> tuple[list[TeamGameIngested], TeamGameIngested]:
    """Every team box but DEN's of the fifth day (DEN is X's opponent on the seventh day),
    and that one."""
    [late] = [t for t in TEAMS if t.team == "DEN" and t.game_date == GAMES[8].day]
    assert (GAMES[12].home, GAMES[12].away) == ("BOS", "DEN")
    return [t for t in TEAMS if t is not late], late


@pytest.mark.parametrize("handover", ["rebalance", "restart"])
async def test_the_new_owner_of_a_partition_checks_it_against_the_league(handover: str) -> None:
    """a computes X's vectors without a team box b stores later; before a has seen it, a's
    partition goes to b (a rebalance), or a restarts: the owner checks the partition when it
    takes over, though no team box is new to it by then."""
    features = InMemoryFeatures()
    a, b = engine_of(features, {0}), engine_of(features, {1, 2})
    for engine in (a, b):
        await engine.load()
    early, late = late_box()
    await b.process([], early)
    await a.process(LINES, [])
    await b.process([], [late])
    batch = await batch_build(features)
    seventh = (X, GAMES[12].day)
    rating = "opp_def_rating"
    assert stored(features)[seventh].features[rating] != batch[seventh].features[rating]
    if handover == "rebalance":
        a.assign({1}, partitions=PARTITIONS)
        b.assign({0, 2}, partitions=PARTITIONS)
        owner = b
    else:
        owner = engine_of(features, {0})
        await owner.load()
    healed = await owner.reconcile()
    assert seventh in {(v.player_id, v.as_of) for v in healed}
    assert owner.stale == {}
    assert differing(features, batch) == []


async def test_the_batch_build_stores_every_vector_once() -> None:
    features = InMemoryFeatures()
    store = Faulty(features)
    loader = engine_of(store)
    await features.store_games(players=LINES + plays(GAMES, "MIA", 4), teams=TEAMS)
    await loader.load()
    batch = await batch_build(features)
    published: list[int] = []

    async def on_chunk(vectors: list[FeaturesComputed], players: int) -> None:
        published.append(len(vectors))

    assert await loader.build(chunk=1, workers=1, on_chunk=on_chunk) == len(batch)
    assert sorted(published) == sorted([len(LINES) + 1, len(plays(GAMES, "MIA", 4)) + 1])
    assert differing(features, batch) == []
    assert await loader.build(workers=1) == 0
    # The build leaves the states in memory: the next game takes the fast path.
    calls = store.calls.count("histories")
    more = dataclasses.replace(GAMES[-2], day=GAMES[-2].day + dt.timedelta(days=1))
    await loader.process(plays([more], "BOS", X), boxes(more))
    assert store.calls.count("histories") == calls


@pytest.mark.xfail(
    strict=True,
    reason="known gap, left as it is (no behaviour change in this refactor): a reconcile "
    "that recomputes a game stored by a batch that failed before recording its progress "
    "leaves that day out of the partition's progress, so a later team box before it is "
    "never checked against it",
)
async def test_a_reconcile_between_a_failed_batch_and_its_redelivery() -> None:
    """A batch fails after its games are committed and before its progress is recorded; the
    idle reconcile runs before the batch comes again (say the database was away for a few
    seconds), recomputes a stale range that covers the batch's games and gives them vectors;
    the redelivered batch then computes (and records) nothing. A team box of a day between
    the partition's recorded latest day and those games, arriving later, must still make
    their vectors stale."""
    features = InMemoryFeatures()
    store = Faulty(features)
    engine = engine_of(store)
    await engine.load()
    early, late = late_box()
    before_late = [t for t in early if t.game_date < late.game_date]
    first_day = [t for t in before_late if t.game_date == GAMES[0].day]
    await engine.process(LINES[:4], [t for t in before_late if t not in first_day])
    store.fail_on = "league_revision"
    with pytest.raises(Crash):
        await engine.process(LINES[4:], [])
    await engine.process([], first_day)  # a late box: stale from the second day
    await engine.reconcile()  # recomputes X from there, the failed batch's games included
    assert await engine.process(LINES[4:], []) == []  # the redelivery: nothing new
    await engine.process([], [t for t in early if t.game_date >= late.game_date] + [late])
    await engine.reconcile()
    assert differing(features, await batch_build(features)) == []


def test_lines_are_bos_games() -> None:
    assert all(isinstance(g, PlayerGameIngested) and g.team == "BOS" for g in LINES)
    assert len(LINES) == len(GAMES) // 2


async def test_a_batch_longer_than_the_idle_time_is_not_idleness() -> None:
    """While a backlog is consumed a batch can outlast `idle_s`: no reconcile starts while it
    is in progress (one between batches would recompute the stale range again and again);
    one starts once it has ended and nothing else came for `idle_s`."""
    engine = engine_of(InMemoryFeatures())
    await engine.load()
    started: list[bool] = []  # per reconcile: was a batch in progress when it started?
    in_batch = False
    reconcile = engine.reconcile

    async def watched() -> list[FeaturesComputed]:
        started.append(in_batch)
        return await reconcile()

    engine.reconcile = watched  # type: ignore[method-assign]
    published: asyncio.Queue[list[FeaturesComputed]] = asyncio.Queue()
    idle_s = 0.02
    async with background(engine.reconcile_when_idle(published.put, idle_s=idle_s)):
        await asyncio.wait_for(published.get(), timeout=5)  # idle from the start
        started.clear()
        async with engine.lock:  # a batch in progress for 25 idle periods
            engine.activity.set()
            in_batch = True
            await asyncio.sleep(25 * idle_s)
            in_batch = False
        engine.activity.set()
        await asyncio.wait_for(published.get(), timeout=5)
    assert started
    assert not any(started)
