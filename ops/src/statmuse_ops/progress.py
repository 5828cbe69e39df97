"""Waiting for a service to catch up, with a progress bar: how many events are done and left,
the rate, and the time remaining (the demo and the replay watch the services' own counters).

`watch` polls a counter until it reaches its target. It gives up only when the counter has
not moved for `stall_s`: a backlog of several seasons takes longer than any fixed deadline,
but a counter that stands still means something is stuck."""

import time
from collections.abc import Callable

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

POLL_S = 0.25


class Stalled(RuntimeError):
    """The counter did not move for the stall time."""


class RateColumn(ProgressColumn):
    """Events per second, as rich measures them over the last seconds."""

    def render(self, task: Task) -> Text:
        speed = task.speed
        return Text("" if speed is None else f"{speed:,.0f}/s", style="progress.data.speed")


class LeftColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        if task.total is None:
            return Text("")
        return Text(f"{max(task.total - task.completed, 0):,.0f} left", style="progress.remaining")


def bar(console: Console | None) -> Progress:
    """The bar the waits draw: what, bar, done of total, left, rate, time remaining (none
    without a console)."""
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        LeftColumn(),
        RateColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=console is None,
    )


def watch(
    what: str,
    value: Callable[[], float],
    target: float | None,
    *,
    stall_s: float,
    done: Callable[[], bool] | None = None,
    console: Console | None = None,
) -> None:
    """Until `value()` reaches `target`, or `done()` says so when given (with no target: a
    count moving towards an end only `done` knows, such as the vectors a reconcile
    recomputes), drawing a bar on `console` (none: quietly). Stalled when the wait is not over
    and `value()` has not moved for `stall_s`."""

    def over(now: float) -> bool:
        if done is not None:
            return done()
        return target is not None and now >= target

    start = last = value()
    moved = time.monotonic()
    total = None if target is None else max(target - start, 0)
    with bar(console) as progress:
        task = progress.add_task(what, total=total)
        while not over(last):
            if time.monotonic() - moved > stall_s:
                at = "" if target is None else f" of {target:.0f}"
                raise Stalled(f"stalled for {stall_s:.0f}s at {last:.0f}{at}: {what}")
            time.sleep(POLL_S)
            now = value()
            if now != last:
                last, moved = now, time.monotonic()
                done_so_far = now - start
                progress.update(
                    task, completed=done_so_far if total is None else min(done_so_far, total)
                )
        progress.update(task, completed=total if total is not None else last - start)
