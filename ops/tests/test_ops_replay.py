"""`statmuse replay`'s own decisions: which answers are final for a day, and what it asks."""

import datetime as dt
from pathlib import Path

from statmuse_ops.replay import days, for_the_game, posted_props

DATA = Path(__file__).resolve().parents[2] / "data" / "nba"
DAY = dt.date(2024, 3, 18)


def test_an_answer_is_final_when_it_is_for_the_days_game_or_cannot_become_one() -> None:
    ok = {"status": "ok", "prediction": {"game": {"game_date": str(DAY)}}}
    assert for_the_game(ok, DAY)
    # From his previous vector: without the game, or for an earlier one: ask again.
    assert not for_the_game({"status": "ok", "prediction": {"game": None}}, DAY)
    earlier = {"status": "ok", "prediction": {"game": {"game_date": str(DAY - dt.timedelta(1))}}}
    assert not for_the_game(earlier, DAY)
    waiting = {
        "status": "error",
        "error": "the vector for X's game on 2024-03-18 comes once the games before it are "
        "played; his next game is on 2024-03-16",
    }
    assert not for_the_game(waiting, DAY)
    # Waiting changes nothing for an unknown player or a team without a game.
    assert for_the_game({"status": "not_found", "error": "unknown player 'Nobody'"}, DAY)
    assert for_the_game({"status": "not_found", "error": "no scheduled game for X"}, DAY)


def test_the_props_asked_are_each_days_distinct_name_stat_and_line() -> None:
    props = posted_props(DATA, DAY, DAY + dt.timedelta(days=1))
    assert set(props) == {DAY, DAY + dt.timedelta(days=1)}
    assert ("LeBron James", "assists", 8.5) in props[DAY]  # posted by several books
    # One entry per prop however many books post it.
    assert len(props[DAY]) == len({(n, s, x) for n, s, x in props[DAY]})
    assert {s for _, s, _ in props[DAY]} <= {"points", "rebounds", "assists", "threes", "pra"}
    assert list(days(DAY, DAY + dt.timedelta(days=2)))[-1] == DAY + dt.timedelta(days=2)
