"""The stats we predict: box-score stats, and combinations that are the sum of two or three."""

import math
from collections.abc import Callable
from enum import StrEnum


class Stat(StrEnum):
    POINTS = "points"
    REBOUNDS = "rebounds"
    ASSISTS = "assists"
    THREES = "threes"
    PRA = "pra"
    STEALS = "steals"
    BLOCKS = "blocks"
    TURNOVERS = "turnovers"
    PR = "pr"
    PA = "pa"
    RA = "ra"
    STOCKS = "stocks"

    @property
    def parts(self) -> tuple[str, ...]:
        """The box-score stats it adds up (itself for a single stat)."""
        return PARTS.get(self.value, (self.value,))

    @property
    def label(self) -> str:
        """What a bettor calls it."""
        return LABELS[self.value]


# What a box score gives, of the stats above.
BOX_STATS = ("points", "rebounds", "assists", "threes", "steals", "blocks", "turnovers")

# The sums of stats that have no features of their own: their models read their parts'.
# (pra, the oldest market, has features of its own as well.)
PARTS: dict[str, tuple[str, ...]] = {
    "pra": ("points", "rebounds", "assists"),
    "pr": ("points", "rebounds"),
    "pa": ("points", "assists"),
    "ra": ("rebounds", "assists"),
    "stocks": ("steals", "blocks"),
}
COMBINATIONS = ("pr", "pa", "ra", "stocks")

LABELS = {
    "points": "points",
    "rebounds": "rebounds",
    "assists": "assists",
    "threes": "threes made",
    "pra": "points + rebounds + assists",
    "steals": "steals",
    "blocks": "blocks",
    "turnovers": "turnovers",
    "pr": "points + rebounds",
    "pa": "points + assists",
    "ra": "rebounds + assists",
    "stocks": "steals + blocks",
}


def total(stat: str, value: "Callable[[str], float | int | None]") -> float | None:
    """A stat's value from its parts' (`value` of a box-score stat): their sum for a sum of
    stats, the value itself for one stat; None when a part is missing."""
    values = [value(part) for part in PARTS.get(stat, (stat,))]
    return None if any(v is None for v in values) else math.fsum(v for v in values if v is not None)
