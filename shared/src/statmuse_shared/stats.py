"""The stats we predict and how each is read off a box score."""

from enum import StrEnum
from typing import Protocol


class Stat(StrEnum):
    POINTS = "points"
    REBOUNDS = "rebounds"
    ASSISTS = "assists"
    THREES = "threes"
    PRA = "pra"

    @property
    def is_small_count(self) -> bool:
        """Counts small enough that the line's integer neighbours carry real mass (pushes)."""
        return self in (Stat.REBOUNDS, Stat.ASSISTS, Stat.THREES)


def stat_value(stat: Stat, box: "BoxLike") -> float | None:
    """The stat's value in one box score; None when the source lacks the column (e.g. FG3M)."""
    if stat is Stat.PRA:
        return float(box.points + box.rebounds + box.assists)
    value = {
        Stat.POINTS: box.points,
        Stat.REBOUNDS: box.rebounds,
        Stat.ASSISTS: box.assists,
        Stat.THREES: box.fg3m,
    }[stat]
    return None if value is None else float(value)


class BoxLike(Protocol):
    """Structural type of a player box score (PlayerGameIngested satisfies it)."""

    points: int
    rebounds: int
    assists: int
    fg3m: int | None
