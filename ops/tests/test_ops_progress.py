"""The waits' progress: a counter watched until it reaches its target, a bar that says what is
done and left, and a stall (not a slow backlog) that ends the wait."""

import io
import itertools

import pytest
from rich.console import Console

from statmuse_ops import progress
from statmuse_ops.progress import Stalled, watch


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "POLL_S", 0.001)


def test_a_counter_is_watched_to_its_target_with_a_bar() -> None:
    counts = itertools.count(100, 50)  # 100 done when the wait starts, 50 more per poll
    out = io.StringIO()
    console = Console(file=out, width=120, force_terminal=False)
    watch("features consumed 1000 events", lambda: next(counts), 1000, stall_s=5, console=console)
    drawn = out.getvalue()
    assert "features consumed 1000 events" in drawn
    assert "900/900" in drawn  # what this wait saw done, of what it waited for
    assert "0 left" in drawn


def test_with_an_end_only_done_knows_the_wait_lasts_until_it_says_so() -> None:
    counts = itertools.count()
    polls = iter([False, False, False, True])
    seen = []

    def value() -> float:
        seen.append(next(counts))
        return seen[-1]

    watch("reconciled", value, None, stall_s=5, done=lambda: next(polls))
    assert len(seen) == 4  # the first read, then one per poll until done


def test_a_counter_that_stands_still_is_a_stall_not_a_slow_backlog() -> None:
    with pytest.raises(Stalled, match=r"stalled for 0s at 7 of 10: features"):
        watch("features", lambda: 7.0, 10, stall_s=0.05)
