"""NBA seasons by name ("2023-24"): the season of a date, and a spec of several seasons."""

import datetime as dt
import re

_SEASON = re.compile(r"^\d{4}-\d{2}$")
_SEASON_RANGE = re.compile(r"^(\d{4})-(\d{2})\.\.(\d{4})-(\d{2})$")

# Seasons open in October, except 2020-21, which opened on 2020-12-22 after the 2019-20
# playoffs ran to 2020-10-11 in the bubble.
_LATE_OPENING = {2020: dt.date(2020, 12, 1)}


def season_name(start_year: int) -> str:
    """2023 -> '2023-24'."""
    return f"{start_year}-{(start_year + 1) % 100:02d}"


def season_start(name: str) -> int:
    """'2023-24' -> 2023, or ValueError for anything that is not a season's name."""
    if not _SEASON.match(name) or (int(name[:4]) + 1) % 100 != int(name[5:]):
        raise ValueError(f"not a season: {name!r} (expected e.g. 2023-24)")
    return int(name[:4])


def season_of(day: dt.date) -> str:
    """The NBA season a date belongs to (2024-03-01 -> 2023-24; 2020-10-11 -> 2019-20)."""
    opening = _LATE_OPENING.get(day.year, dt.date(day.year, 10, 1))
    return season_name(day.year if day >= opening else day.year - 1)


def parse_seasons(spec: str) -> list[str]:
    """'2023-24', '2021-22,2023-24' or '2017-18..2023-24' -> explicit seasons, in order.
    ValueError names what is wrong (not a season, a range running backwards, nothing)."""
    spec = spec.strip()
    if _SEASON_RANGE.match(spec):
        first_name, last_name = spec.split("..")
        first, last = season_start(first_name), season_start(last_name)
        if last < first:
            raise ValueError(f"season range runs backwards: {spec}")
        return [season_name(y) for y in range(first, last + 1)]
    seasons = [s.strip() for s in spec.split(",") if s.strip()]
    for s in seasons:
        season_start(s)
    if not seasons:
        raise ValueError("no season given")
    return seasons
