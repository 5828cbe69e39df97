"""The stats we predict."""

from enum import StrEnum


class Stat(StrEnum):
    POINTS = "points"
    REBOUNDS = "rebounds"
    ASSISTS = "assists"
    THREES = "threes"
    PRA = "pra"
