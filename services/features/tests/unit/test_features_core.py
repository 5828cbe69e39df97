"""The engine's decisions (statmuse_features.core), directly: data in, data out."""

import datetime as dt

from statmuse_features.core import (
    Assignment,
    Known,
    Refresh,
    advance,
    build_chunk,
    heal_days,
    healed,
    latest_per_key,
    plan_batch,
    plan_heal,
    plan_refresh,
    players_to_heal,
    rebuild,
    stale_seasons,
)
from statmuse_features.ports import History, StaleRange
from statmuse_features.service import partition_of, player_game, vectors_and_state
from statmuse_shared.features import League, PlayerState, TeamGame, pack, possessions_of

from .season import boxes, plays, schedule

GAMES = schedule("2023-24", 8)
LINES = plays(GAMES, "BOS", 1)
HISTORY = [player_game(g) for g in LINES]
D = [g.game_date for g in LINES]  # one game day each


def league() -> League:
    out = League()
    for g in GAMES:
        for t in boxes(g):
            allowed, poss, minutes = t.opponent_points, possessions_of(t), t.minutes
            assert allowed is not None
            assert poss is not None
            assert minutes is not None
            out.add(TeamGame(t.game_date, t.season, t.team, allowed, poss, minutes))
    return out


def known(upto: int) -> Known:
    """Player 1's state after his first `upto` games."""
    _, state = vectors_and_state(
        player_id=1, player_name="Player 1", history=HISTORY[:upto], league=league()
    )
    return Known("Player 1", state)


def partition(player_id: int) -> int:
    return player_id % 3


# --- ownership ---------------------------------------------------------------------------------


def test_a_standalone_engine_owns_every_partition_and_checks_all() -> None:
    a = Assignment()
    assert (a.owned, a.checked, a.partition(12345)) == (None, None, 0)
    assert a.applied([1, 2, 3]) == (a, [])


def test_a_new_assignment_waits_for_the_next_batch_and_drops_what_left() -> None:
    a = Assignment(frozenset()).reassigned({0, 1}, partitions=3)
    assert (a.owned, a.partitions, a.lost, a.pending, a.checked) == ({0, 1}, 3, set(), True, [0, 1])
    players = {p: partition_of(p, 3) for p in range(1, 13)}
    b, drop = a.applied(players)
    assert drop == [p for p, part in players.items() if part == 2]  # not owned
    assert (b.pending, b.lost) == (False, frozenset())
    assert b.applied(players) == (b, [])


def test_a_partition_that_left_stays_lost_though_it_came_back_before_the_next_batch() -> None:
    a = Assignment(frozenset({0, 1}), 3)
    a = a.reassigned({1}, partitions=3).reassigned({0, 1}, partitions=3)
    assert a.lost == {0}
    players = [p for p in range(1, 13) if partition_of(p, 3) in (0, 1)]
    _, drop = a.applied(players)
    assert drop == [p for p in players if partition_of(p, 3) == 0]


def test_a_standalone_engine_that_joins_a_group_loses_what_it_was_not_given() -> None:
    a = Assignment().reassigned({2}, partitions=3)
    assert a.lost == {0, 1}


# --- the league --------------------------------------------------------------------------------


def test_new_revisions_are_read_and_checked_and_otherwise_only_when_asked() -> None:
    assert plan_refresh(head=7, revision=5, check_all=False) == Refresh(read_after=5, check=True)
    assert plan_refresh(head=5, revision=5, check_all=True) == Refresh(read_after=None, check=True)
    assert plan_refresh(head=5, revision=5, check_all=False) == Refresh(None, check=False)


def test_the_first_stale_day_of_each_season() -> None:
    ranges = [
        StaleRange(0, "2023-24", D[4], 1),
        StaleRange(2, "2023-24", D[2], 3),
        StaleRange(1, "2024-25", D[6], 1),
    ]
    assert stale_seasons(ranges) == {"2023-24": D[2], "2024-25": D[6]}
    assert stale_seasons([]) == {}


# --- a batch -----------------------------------------------------------------------------------


def test_only_new_or_unvectorised_games_are_computed_and_their_progress_recorded() -> None:
    plan = plan_batch(LINES[:3], computed={(1, LINES[2].game_key)}, players={}, partition=partition)
    assert plan.fresh == [LINES[2]]
    assert plan.progress == {(1, "2023-24"): D[2]}
    assert plan.rebuild == [(1, D[2])]
    assert (plan.advance, plan.drop) == ([], [])


def test_games_after_the_state_advance_it_in_date_order() -> None:
    state = known(3)
    batch = [LINES[5], LINES[3], LINES[4]]
    plan = plan_batch(
        batch, computed={(1, g.game_key) for g in batch}, players={1: state}, partition=partition
    )
    [work] = plan.advance
    assert (work.player_id, work.known, work.games) == (1, state, LINES[3:6])
    assert plan.rebuild == []
    assert plan.progress == {(1, "2023-24"): D[5]}


def test_a_game_older_than_the_state_rebuilds_the_player_from_it() -> None:
    plan = plan_batch(
        [LINES[1], LINES[6]],
        computed={(1, LINES[1].game_key), (1, LINES[6].game_key)},
        players={1: known(4)},
        partition=partition,
    )
    assert (plan.advance, plan.rebuild) == ([], [(1, D[1])])


def test_a_stored_game_newer_than_the_state_drops_it() -> None:
    """Stored (with its vector) by an instance that had the partition before: the state
    missed it; the player's next game rebuilds him."""
    plan = plan_batch(
        [LINES[4], LINES[5]],
        computed={(1, LINES[5].game_key)},
        players={1: known(3)},
        partition=partition,
    )
    assert plan.drop == [1]
    assert (plan.advance, plan.rebuild) == ([], [(1, D[5])])
    # One the state has seen drops nothing.
    plan = plan_batch([LINES[2]], computed=set(), players={1: known(3)}, partition=partition)
    assert (plan.drop, plan.fresh) == ([], [])


# --- reconcile ---------------------------------------------------------------------------------


def test_reconcile_recomputes_each_season_from_each_partitions_first_stale_day() -> None:
    ranges = [
        StaleRange(0, "2023-24", D[4], 2),
        StaleRange(1, "2023-24", D[2], 1),
        StaleRange(2, "2023-24", D[4], 5),
        StaleRange(0, "2024-25", D[1], 1),
    ]
    plan = plan_heal(ranges)
    assert plan == [("2023-24", {0: D[4], 1: D[2], 2: D[4]}), ("2024-25", {0: D[1]})]
    assert heal_days(plan[0][1]) == [(D[2], {1}), (D[4], {0, 2})]
    found = [3, 4, 5, 6, 7]
    assert players_to_heal(found, day=D[4], partitions={0, 2}, partition=partition) == [
        (3, D[4]),
        (5, D[4]),
        (6, D[4]),
    ]
    assert healed(ranges) == [
        (0, "2023-24", 2),
        (1, "2023-24", 1),
        (2, "2023-24", 5),
        (0, "2024-25", 1),
    ]


# --- vectors -----------------------------------------------------------------------------------


def test_advancing_a_state_gives_the_vectors_a_walk_gives() -> None:
    state = known(3)
    plan = plan_batch(
        LINES[3:],
        computed={(1, g.game_key) for g in LINES[3:]},
        players={1: state},
        partition=partition,
    )
    vectors = advance(plan.advance, league())
    walked, _ = vectors_and_state(
        player_id=1, player_name="Player 1", history=HISTORY, league=league(), since=D[3]
    )
    assert [v.event_id for v in vectors] == [v.event_id for v in walked]
    assert state.state.last == HISTORY[-1]


def test_a_rebuild_gives_each_players_vectors_from_his_day_and_his_state() -> None:
    histories = {1: History("Player 1", HISTORY), 4: History("P4", HISTORY[:2])}
    vectors, states = rebuild(histories, since={1: D[5]}, league=league())
    assert [(v.player_id, v.kind, v.as_of) for v in vectors] == [
        (1, "game", D[5]),
        (1, "game", D[6]),
        (1, "game", D[7]),
        (1, "next", D[7] + dt.timedelta(days=1)),
        (4, "game", D[0]),
        (4, "game", D[1]),
        (4, "next", D[1] + dt.timedelta(days=1)),
    ]
    assert states[1].state.last == HISTORY[-1]
    assert (states[4].name, states[4].state.career_games) == ("P4", 2)
    assert isinstance(states[1].state, PlayerState)


def test_a_build_chunk_packs_what_it_computes() -> None:
    vectors, packed, states = build_chunk([(1, "Player 1", HISTORY)], league())
    assert len(vectors) == len(HISTORY) + 1
    assert packed == [pack(v.features) for v in vectors]
    assert list(states) == [1]


def test_the_later_of_two_vectors_for_a_key_is_stored() -> None:
    a, _ = vectors_and_state(
        player_id=1, player_name="Player 1", history=HISTORY[:1], league=league()
    )
    b, _ = vectors_and_state(
        player_id=1, player_name="Player 1", history=HISTORY[:2], league=league()
    )
    # a's next vector is for the day after the first game, b's second game day: b's game
    # vector supersedes it, and b's vectors supersede a's of the same day.
    assert a[-1].as_of == b[1].as_of
    assert latest_per_key([*a, *b]) == [2, 3, 4]
    assert latest_per_key([*b, *a]) == [2, 3, 4]
