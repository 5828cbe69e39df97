"""Team strength as of any day, from team box scores: defensive rating, pace and rank.

possessions = FGA - OREB + TOV + 0.44 * FTA (the team's own box); defensive rating = 100 *
points allowed / possessions; pace = possessions per 48 minutes (team minutes / 5). Season to
date, strictly before the day asked about: a rating "as of D" never sees a game on D.
"""

import bisect
import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

MIN_TEAM_GAMES = 5  # fewer games than this and a rating is too noisy to report

# Where each team plays at home: UTC offset in standard time (hours), for travel features.
TEAM_UTC_OFFSET: dict[str, int] = {
    "ATL": -5,
    "BOS": -5,
    "BKN": -5,
    "CHA": -5,
    "CHI": -6,
    "CLE": -5,
    "DAL": -6,
    "DEN": -7,
    "DET": -5,
    "GSW": -8,
    "HOU": -6,
    "IND": -5,
    "LAC": -8,
    "LAL": -8,
    "MEM": -6,
    "MIA": -5,
    "MIL": -6,
    "MIN": -6,
    "NOP": -6,
    "NYK": -5,
    "OKC": -6,
    "ORL": -5,
    "PHI": -5,
    "PHX": -7,
    "POR": -8,
    "SAC": -8,
    "SAS": -6,
    "TOR": -5,
    "UTA": -7,
    "WAS": -5,
}
ALTITUDE_TEAM = "DEN"  # Ball Arena, 1,609 m


@dataclass(frozen=True, slots=True)
class TeamGame:
    game_date: dt.date
    season: str
    team: str
    points_allowed: int
    possessions: float
    minutes: float
    plays: float | None = None  # FGA + 0.44 FTA + turnovers, for the players' usage rates

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> "TeamGame":
        """From a stored row whose columns carry the fields' names (`plays` may be absent)."""
        try:
            plays = row["plays"]
        except KeyError:
            plays = None
        return cls(**{n: row[n] for n in _TEAM_GAME_FIELDS if n != "plays"}, plays=plays)


_TEAM_GAME_FIELDS = tuple(f.name for f in fields(TeamGame))


@dataclass(frozen=True, slots=True)
class TeamRating:
    games: int
    defensive_rating: float
    pace: float


@dataclass
class _Season:
    dates: list[dt.date] = field(default_factory=list)
    games: list[TeamGame] = field(default_factory=list)
    # Running totals after each game, aligned with `dates`.
    possessions: list[float] = field(default_factory=list)
    allowed: list[float] = field(default_factory=list)
    minutes: list[float] = field(default_factory=list)

    def insert(self, game: TeamGame) -> TeamGame | None:
        """Adds `game`; returns the box score it replaced (same day), if any."""
        i = bisect.bisect_left(self.dates, game.game_date)
        replaced = None
        if i < len(self.dates) and self.dates[i] == game.game_date:
            replaced, self.games[i] = self.games[i], game  # a corrected box score
        else:
            self.dates.insert(i, game.game_date)
            self.games.insert(i, game)
        self._totals_from(i)
        return replaced

    def _totals_from(self, i: int) -> None:
        del self.possessions[i:], self.allowed[i:], self.minutes[i:]
        poss = self.possessions[-1] if self.possessions else 0.0
        allowed = self.allowed[-1] if self.allowed else 0.0
        minutes = self.minutes[-1] if self.minutes else 0.0
        for g in self.games[i:]:
            poss, allowed, minutes = (
                poss + g.possessions,
                allowed + g.points_allowed,
                minutes + g.minutes,
            )
            self.possessions.append(poss)
            self.allowed.append(allowed)
            self.minutes.append(minutes)

    def as_of(self, day: dt.date) -> TeamRating | None:
        n = bisect.bisect_left(self.dates, day)  # games strictly before `day`
        if n < MIN_TEAM_GAMES or self.possessions[n - 1] <= 0:
            return None
        poss = self.possessions[n - 1]
        return TeamRating(
            games=n,
            defensive_rating=100.0 * self.allowed[n - 1] / poss,
            pace=48.0 * poss / (self.minutes[n - 1] / 5.0),
        )


def _digest(game: TeamGame) -> int:
    """A stable 64-bit digest of one box score (Python's hash() differs between processes)."""
    fields_ = "|".join(str(getattr(game, name)) for name in _TEAM_GAME_FIELDS)
    return int.from_bytes(hashlib.blake2b(fields_.encode(), digest_size=8).digest(), "big")


@dataclass(frozen=True, slots=True)
class Absent:
    """A player listed out for a game, with his recent means for the team (None where the
    source does not say): what his absence takes from the ones who play."""

    player_id: int
    minutes: float | None
    points: float | None
    rebounds: float | None
    assists: float | None


@dataclass(frozen=True, slots=True)
class TeamReport:
    """Who is out for a team's game on a day, as the availability source last said it (an
    empty `absent`: nobody)."""

    game_date: dt.date
    season: str
    team: str
    absent: tuple[Absent, ...]


class League:
    """Every team's season so far; answers ratings and ranks as of a day."""

    def __init__(self) -> None:
        self._seasons: dict[tuple[str, str], _Season] = {}
        self._by_season: dict[str, list[tuple[str, _Season]]] = {}
        self._ranks: dict[tuple[str, dt.date], dict[str, int]] = {}
        self._fingerprint = 0  # of the team boxes (the reports are not in it)
        self._reports: dict[tuple[str, dt.date], TeamReport] = {}

    @property
    def fingerprint(self) -> str:
        """What the league holds, as a short digest: equal for equal sets of box scores
        whatever order they came in (so processes that have seen the same games agree), and
        different once a game is added or corrected. A cache of answers that read the league
        keys them by it."""
        return f"{self._fingerprint:016x}"

    def add(self, game: TeamGame) -> None:
        key = (game.team, game.season)
        if key not in self._seasons:
            self._seasons[key] = _Season()
            self._by_season.setdefault(game.season, []).append((game.team, self._seasons[key]))
        replaced = self._seasons[key].insert(game)
        if replaced is not None:
            self._fingerprint ^= _digest(replaced)
        self._fingerprint ^= _digest(game)
        # Ranks of this season may have changed on any later day.
        self._ranks = {k: v for k, v in self._ranks.items() if k[0] != game.season}

    def rating(self, team: str, season: str, day: dt.date) -> TeamRating | None:
        s = self._seasons.get((team, season))
        return None if s is None else s.as_of(day)

    def report(self, report: TeamReport) -> None:
        """Who is out for a team's game: the latest report for (team, day) replaces the one
        before it."""
        self._reports[(report.team, report.game_date)] = report

    def out(self, team: str, day: dt.date) -> TeamReport | None:
        """The report of the team's game on `day`, if any came (not the days before: a report
        says who is out for one game)."""
        return self._reports.get((team, day))

    def box(self, team: str, season: str, day: dt.date) -> TeamGame | None:
        """The team's box score of the game on `day`, if known."""
        s = self._seasons.get((team, season))
        if s is None:
            return None
        i = bisect.bisect_left(s.dates, day)
        return s.games[i] if i < len(s.dates) and s.dates[i] == day else None

    def games_between(
        self, team: str, season: str, *, after: dt.date | None, before: dt.date
    ) -> int:
        """The team's games of the season strictly after `after` (None: from the start) and
        strictly before `before` (0 when none of that team's season is known: whether a
        season is known must not depend on games from `before` on)."""
        s = self._seasons.get((team, season))
        if s is None:
            return 0
        start = 0 if after is None else bisect.bisect_right(s.dates, after)
        return max(bisect.bisect_left(s.dates, before) - start, 0)

    def defensive_ranks(self, season: str, day: dt.date) -> dict[str, int]:
        """1 = best defence (lowest rating) among teams with enough games before `day`."""
        cached = self._ranks.get((season, day))
        if cached is not None:
            return cached
        rated = []
        for team, s in self._by_season.get(season, ()):
            if (r := s.as_of(day)) is not None:
                rated.append((r.defensive_rating, team))
        rated.sort()
        ranks = {team: i + 1 for i, (_, team) in enumerate(rated)}
        self._ranks[(season, day)] = ranks
        return ranks

    def rank(self, team: str, season: str, day: dt.date) -> int | None:
        return self.defensive_ranks(season, day).get(team)


def possessions(*, fga: int, oreb: int, tov: int, fta: int) -> float:
    return fga - oreb + tov + 0.44 * fta


def plays(*, fga: int | None, tov: int | None, fta: int | None) -> float | None:
    """Plays a team ended: FGA + 0.44 FTA + turnovers (None without one of them)."""
    if fga is None or tov is None or fta is None:
        return None
    return fga + 0.44 * fta + tov


class TeamBox(Protocol):
    @property
    def fga(self) -> int | None: ...
    @property
    def oreb(self) -> int | None: ...
    @property
    def tov(self) -> int | None: ...
    @property
    def fta(self) -> int | None: ...


def possessions_of(box: TeamBox) -> float | None:
    """A team box's possessions, or None when it lacks a column the estimate needs."""
    if box.fga is None or box.oreb is None or box.tov is None or box.fta is None:
        return None
    return possessions(fga=box.fga, oreb=box.oreb, tov=box.tov, fta=box.fta)
