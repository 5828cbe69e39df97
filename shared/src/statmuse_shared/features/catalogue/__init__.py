"""The feature catalogue: every feature a vector has, declared once with its name, type, window
and definition.

Features come in families: a template such as `{stat}_sma_{w}` expanded over the stats and the
windows it applies to, or a single general feature such as `days_rest`. `CATALOGUE` is every
feature in packing order (the names sorted), and everything else derives from it: the names
(`feature_names()`), the stored form (`features.pack`), docs/FEATURES.md (`document.py` fills
the template beside it; `python -m statmuse_shared.features.catalogue [--check]` rewrites or
checks the file) and the feature-set version.
`PlayerState` (player.py) computes the features; a unit test checks that it computes exactly
the names declared here, no more and no fewer.

Why the version is recorded and only its check derived: stored vectors, model bundles and
event ids carry the version string, so it must not move while the features stay the same, and
a hash would. The catalogue records `VERSION` with `FINGERPRINT` (a short hash of the names,
types and windows in packing order); a unit test recomputes the fingerprint and fails until a
change to the catalogue comes with a new version and the new fingerprint. A change to how a
feature is computed that keeps its name, type and window cannot be seen here: bump the version
by hand then.

A package rather than one module so that `python -m statmuse_shared.features.catalogue` runs
`__main__.py` (which calls `document.main`) without executing again the catalogue the
`features` package has imported already.
"""

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from statmuse_shared.features.player import (
    BOTTOM_DEFENCE,
    CHANGED_TEAM_PRIOR_SHARE,
    COMPACT_STATS,
    EMA_ALPHA,
    MAX_REST_DAYS,
    PRIOR_GAMES,
    STATS,
    TOP_DEFENCE,
    USAGE_WINDOW,
    WINDOWS,
    WMA_WINDOWS,
)
from statmuse_shared.features.teams import ALTITUDE_TEAM, MIN_TEAM_GAMES, TEAM_UTC_OFFSET

VERSION = "fs-6"
FINGERPRINT = "c3d128a5f228"
STALE_FINGERPRINT = (
    "the catalogue changed: bump the feature-set version and record the new fingerprint"
)

# Every value is a float64 (or None); the type says what the number is.
Dtype = Literal["float", "count", "flag"]
# How much of the past a feature reads: the last n games, the season so far, every past game,
# the week before the game day; None for a fact of the game itself.
Window = int | Literal["season", "prior season", "career", "7 days"] | None

DTYPES: dict[Dtype, str] = {
    "float": "any number",
    "count": "a whole number ≥ 0 (of games, values or days)",
    "flag": "1 or 0",
}


@dataclass(frozen=True, slots=True)
class Feature:
    name: str
    dtype: Dtype
    window: Window
    family: str  # the template it comes from, e.g. `{stat}_sma_{w}`
    stat: str | None  # None for a general feature
    description: str
    on_next: bool  # False: always None on `next` vectors (it needs the game)


@dataclass(frozen=True, slots=True)
class Family:
    """A template and what it expands over. `{stat}` in the template: one feature per stat of
    `stats`; `{w}`: one per window of `windows` (otherwise `windows` is the one window).
    `{stat}` and `{w}` in the description are filled in the same way."""

    template: str
    dtype: Dtype
    windows: tuple[Window, ...]
    description: str
    stats: tuple[str, ...] = ()
    on_next: bool = True

    def __post_init__(self) -> None:
        if ("{stat}" in self.template) != bool(self.stats):
            raise ValueError(f"{self.template}: stats go with a {{stat}} template")
        if "{w}" not in self.template and len(self.windows) != 1:
            raise ValueError(f"{self.template}: one window without {{w}}")

    def expand(self) -> Iterator[Feature]:
        for stat in self.stats or (None,):
            for window in self.windows:
                yield Feature(
                    name=_fill(self.template, stat, window),
                    dtype=self.dtype,
                    window=window,
                    family=self.template,
                    stat=stat,
                    description=_fill(self.description, stat, window),
                    on_next=self.on_next,
                )


def _fill(text: str, stat: str | None, window: Window) -> str:
    if stat is not None:
        text = text.replace("{stat}", stat)
    return text.replace("{w}", str(window))


def _per_stat(
    template: str,
    dtype: Dtype,
    windows: tuple[Window, ...],
    description: str,
    *,
    stats: tuple[str, ...] = STATS,
    compact: bool = False,
    on_next: bool = True,
) -> Family:
    """A per-stat family; `compact`: the compact stats (`COMPACT_STATS`) have it too."""
    stats = (*stats, *COMPACT_STATS) if compact else stats
    return Family(f"{{stat}}_{template}", dtype, windows, description, stats, on_next)


def _general(
    name: str, dtype: Dtype, window: Window, description: str, *, on_next: bool = True
) -> Family:
    return Family(name, dtype, (window,), description, on_next=on_next)


_KEEP = 1 - EMA_ALPHA
PER_STAT: tuple[Family, ...] = (
    _per_stat(
        "n_{w}",
        "count",
        WINDOWS,
        "Number of values in the window: min({w}, values so far).",
        compact=True,
    ),
    _per_stat(
        "sma_{w}",
        "float",
        WINDOWS,
        "Mean of the last {w} values. None with no values.",
        compact=True,
    ),
    _per_stat(
        "std_{w}",
        "float",
        WINDOWS,
        "Sample standard deviation (ddof 1) of the last {w} values. None under 2.",
        compact=True,
    ),
    _per_stat("min_{w}", "float", WINDOWS, "Minimum of the last {w} values. None with no values."),
    _per_stat("max_{w}", "float", WINDOWS, "Maximum of the last {w} values. None with no values."),
    _per_stat(
        "median_{w}",
        "float",
        WINDOWS,
        "Median of the last {w} values (mean of the middle two when even). None with no values.",
    ),
    _per_stat(
        "wma_{w}",
        "float",
        WMA_WINDOWS,
        "Weighted mean of the last k ≤ {w} values with weights 1..k, newest heaviest: "
        "Σ i·vᵢ / Σ i. None with no values.",
    ),
    _per_stat(
        "ema",
        "float",
        ("career",),
        f"Exponential moving average, alpha {EMA_ALPHA:g}, over the whole career: seeded with "
        f"the first value, then {EMA_ALPHA:g}·v + {_KEEP:g}·ema per value. None with no values.",
        compact=True,
    ),
    _per_stat(
        "season_avg",
        "float",
        ("season",),
        "Mean of the values in the season of the game (`game` vectors) or of the last game "
        "(`next` vectors); resets at a new season. A season is the season string (e.g. "
        "`2023-24`): regular season, play-in and playoffs together. None with no values.",
        compact=True,
    ),
    _per_stat(
        "season_n",
        "count",
        ("season",),
        "Number of values behind `{stat}_season_avg` (0 if none in that season).",
        compact=True,
    ),
    _per_stat(
        "prior_season_avg",
        "float",
        ("prior season",),
        "Mean of the values in the prior season: the latest season before the game's season "
        "(`next` vectors: before the last game's season) in which the player has values of "
        "the stat. None with no such season.",
        compact=True,
    ),
    _per_stat(
        "prior_season_n",
        "count",
        ("prior season",),
        "Number of values behind `{stat}_prior_season_avg` (0 if none).",
        compact=True,
    ),
    _per_stat(
        "season_shrunk",
        "float",
        ("season",),
        "The season mean shrunk towards the prior season's: (sum of this season's values + k × "
        f"`{{stat}}_prior_season_avg`) / (this season's count + k), k = {PRIOR_GAMES} games, "
        f"× {CHANGED_TEAM_PRIOR_SHARE:g} when `team_changed` is 1. Without a prior season, "
        "`{stat}_season_avg`; None with neither.",
        compact=True,
    ),
    _per_stat(
        "career_avg", "float", ("career",), "Mean of all values. None with no values.", compact=True
    ),
    _per_stat("career_n", "count", ("career",), "Number of all values.", compact=True),
    _per_stat(
        "slope_10",
        "float",
        (10,),
        "Least-squares slope per game of the last up-to-10 values against their position "
        "(0, 1, …, oldest first), in stat units per game. None under 3.",
    ),
    _per_stat("momentum", "float", (5,), "Last value − `{stat}_sma_5`. None with no values."),
    _per_stat(
        "per_min_10",
        "float",
        (10,),
        "Sum of the last up-to-10 values / sum of the minutes of those same games. None if "
        "that minute sum is 0.",
        stats=tuple(s for s in STATS if s != "minutes"),
        compact=True,
    ),
    _per_stat(
        "vs_top10_avg",
        "float",
        ("career",),
        "Mean of the values in past games where the opponent's defensive rank "
        f"(`opp_def_rank`, as of that game's day) was ≤ {TOP_DEFENCE}. None with no values.",
    ),
    _per_stat("vs_top10_n", "count", ("career",), "Number of games behind `{stat}_vs_top10_avg`."),
    _per_stat(
        "vs_bottom10_avg",
        "float",
        ("career",),
        "Mean of the values in past games where the opponent's defensive rank (as of that "
        f"game's day) was ≥ {BOTTOM_DEFENCE} (bottom 10 of 30; with fewer ranked teams the set "
        f"is smaller). Games with rank {TOP_DEFENCE + 1}–{BOTTOM_DEFENCE - 1} or no rank count "
        "in neither split. None with no values.",
    ),
    _per_stat(
        "vs_bottom10_n",
        "count",
        ("career",),
        "Number of games behind `{stat}_vs_bottom10_avg`.",
    ),
    _per_stat(
        "vs_opp_avg",
        "float",
        ("career",),
        "Mean of the values in all past games (any season) against this game's opponent. "
        "None with no values.",
        on_next=False,
    ),
    _per_stat(
        "vs_opp_last",
        "float",
        ("career",),
        "The value in the most recent past game against this game's opponent. None with no values.",
        on_next=False,
    ),
)

GENERAL: tuple[Family, ...] = (
    _general(
        "minutes_trend",
        "float",
        10,
        "`minutes_sma_3` − `minutes_sma_10`. None before a debut.",
    ),
    _general("career_games", "count", "career", "Number of past games."),
    _general(
        "season_games",
        "count",
        "season",
        "Number of past games in the season of the game (`next`: of the last game).",
    ),
    _general(
        "team_changed",
        "flag",
        "prior season",
        "1 if the game's team (`next` vectors: the last game's team) is not the team of the "
        "player's last game of the season before the game's season, else 0. None before the "
        "player's first season is over.",
    ),
    _general(
        "with_team_games",
        "count",
        "career",
        "Games in a row the player has played for the game's team (`next`: the last game's "
        "team), up to the last game; 0 when the game's team is not the last game's.",
    ),
    _general(
        "usage_10",
        "float",
        USAGE_WINDOW,
        "Usage rate, the mean over the player's last up-to-{w} games that have FGA, FTA, "
        "turnovers and minutes, of those in the game's season whose team box score is known "
        "(before the game day): per game 100 × plays × (team minutes / 5) / (minutes × "
        "team plays), plays = FGA + 0.44 FTA + turnovers (the share of his team's plays a "
        "player ended while on "
        "the floor, in percent). None with no such game. A team box score that comes late "
        "makes later vectors stale, as for the opponent ratings.",
        on_next=False,
    ),
    _general(
        "usage_n_10",
        "count",
        USAGE_WINDOW,
        "Number of games behind `usage_10` (0 with none); None without team data at all.",
        on_next=False,
    ),
    _general(
        "out_n",
        "count",
        None,
        "Players of his team listed out for the game (the availability report: the official "
        "injury report's 'out', or the files stand-in, the rotation players missing from the "
        "box score). None without a report for the game.",
        on_next=False,
    ),
    _general(
        "out_minutes",
        "float",
        None,
        "Σ of the recent minutes per game (their means for the team, from the report) of the "
        "players listed out: the minutes the ones who play share out. None without a report.",
        on_next=False,
    ),
    _general(
        "out_points",
        "float",
        None,
        "Σ of the recent points per game of the players listed out. None without a report.",
        on_next=False,
    ),
    _general(
        "out_rebounds",
        "float",
        None,
        "Σ of the recent rebounds per game of the players listed out. None without a report.",
        on_next=False,
    ),
    _general(
        "out_assists",
        "float",
        None,
        "Σ of the recent assists per game of the players listed out. None without a report.",
        on_next=False,
    ),
    _general(
        "true_shooting_10",
        "float",
        USAGE_WINDOW,
        "True shooting over the last up-to-{w} games that have FGA and FTA: Σ points / (2 × "
        "Σ (FGA + 0.44 FTA)). None with no such game or no attempt.",
    ),
    _general(
        "true_shooting_n_10", "count", USAGE_WINDOW, "Number of games behind `true_shooting_10`."
    ),
    _general(
        "new_team",
        "flag",
        1,
        "1 if the game's team is not the team of the player's last game (a trade or a "
        "signing), else 0. None before a debut.",
        on_next=False,
    ),
    _general(
        "games_missed",
        "count",
        "season",
        "The team's games of this season strictly after the player's last game (from the "
        "start of the season if his last game was in an earlier one) and strictly before the "
        "game day: games he missed, or had not yet joined for. From the team box scores known "
        "(0 with none of them); None without team data at all.",
        on_next=False,
    ),
    _general(
        "is_home",
        "flag",
        None,
        "1 if the player's team is at home, else 0.",
        on_next=False,
    ),
    _general(
        "is_playoffs",
        "flag",
        None,
        "1 if the season type is `Playoffs`, else 0 (Regular Season, Play-In, Cup Final).",
        on_next=False,
    ),
    _general(
        "days_rest",
        "count",
        1,
        "Days between the last game and this one minus 1, capped at "
        f"{MAX_REST_DAYS} (0 = back-to-back). None before a debut.",
        on_next=False,
    ),
    _general(
        "back_to_back",
        "flag",
        1,
        "1 if `days_rest` = 0, else 0. None before a debut.",
        on_next=False,
    ),
    _general(
        "games_last_7_days",
        "count",
        "7 days",
        "Past games 1–7 days before the game day.",
        on_next=False,
    ),
    _general(
        "tz_shift_hours",
        "float",
        1,
        "UTC offset (standard time, table `TEAM_UTC_OFFSET` in `teams.py`) of this game's home "
        "team's arena minus that of the last game's home team's arena; positive = eastward. "
        "None before a debut or if either team is not in the table "
        f"({len(TEAM_UTC_OFFSET)} current abbreviations).",
        on_next=False,
    ),
    _general(
        "at_altitude",
        "flag",
        None,
        f"1 if the game is in Denver (home team `{ALTITUDE_TEAM}`), else 0.",
        on_next=False,
    ),
    _general(
        "vs_opp_games",
        "count",
        "career",
        "Past games against this game's opponent (any season).",
        on_next=False,
    ),
    _general(
        "opp_def_rating",
        "float",
        "season",
        "Opponent's defensive rating: 100 × points allowed / possessions, summed over its "
        "games of this season strictly before the game day. None under "
        f"{MIN_TEAM_GAMES} such games or without team data.",
        on_next=False,
    ),
    _general(
        "opp_pace",
        "float",
        "season",
        "Opponent's pace over the games behind `opp_def_rating`: 48 × possessions / (team "
        "minutes / 5). None "
        "when `opp_def_rating` is.",
        on_next=False,
    ),
    _general(
        "opp_def_rank",
        "float",
        "season",
        "Opponent's rank by `opp_def_rating` among the teams with at least "
        f"{MIN_TEAM_GAMES} games that season before the day: 1 = lowest rating (best "
        "defence); ties by team abbreviation. None when `opp_def_rating` is.",
        on_next=False,
    ),
    _general(
        "opp_team_games",
        "count",
        "season",
        f"Number of the opponent's games behind its rating (≥ {MIN_TEAM_GAMES}; None when "
        "`opp_def_rating` is).",
        on_next=False,
    ),
)

FAMILIES = PER_STAT + GENERAL
# Every feature in packing order: the stored vectors and every model bundle's columns follow it.
CATALOGUE: tuple[Feature, ...] = tuple(
    sorted((f for family in FAMILIES for f in family.expand()), key=lambda f: f.name)
)


def feature_names() -> list[str]:
    """Every feature a vector has, in packing order (sorted)."""
    return [f.name for f in CATALOGUE]


def fingerprint(features: Sequence[Feature] = CATALOGUE) -> str:
    """A short hash of the names, types and windows in order (not the descriptions: rewording
    a definition changes no vector)."""
    lines = "\n".join(f"{f.name}\t{f.dtype}\t{f.window}" for f in features)
    return hashlib.sha256(lines.encode()).hexdigest()[:12]


FEATURE_SET_VERSION = VERSION
