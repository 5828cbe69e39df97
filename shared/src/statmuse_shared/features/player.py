"""A player's pre-game feature vector, built by one state machine for batch and streaming.

`PlayerState.add(game)` folds one played game in; `PlayerState.vector(...)` describes the player
before a game. Batch training walks a whole history (vector, then add, game after game);
streaming adds the one new game. Both run this same code, so they cannot disagree, and a vector
only ever sees games added before it: nothing from the game day or later.

Windows count the games that have the stat (threes are missing in some seasons): every
`*_n_*` feature says how many games stand behind a number, and a number with nothing behind it
is None, never 0. catalogue.py declares and defines every feature (docs/FEATURES.md is
generated from it); a test checks that this code computes exactly those.
"""

import datetime as dt
import functools
import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from statmuse_shared.contract.stats import PARTS, total
from statmuse_shared.features.teams import (
    ALTITUDE_TEAM,
    TEAM_UTC_OFFSET,
    League,
    TeamGame,
    TeamReport,
)

STATS = ("points", "rebounds", "assists", "threes", "pra", "minutes")
# Box-score stats with a compact set of features (the means, spreads, counts and rates of
# `COMPACT_FAMILIES`, not the splits and extremes): steals, blocks and turnovers have their own
# models, and the combinations of two stats read the features of their parts.
COMPACT_STATS = ("steals", "blocks", "turnovers")
WINDOWS = (3, 5, 10)
WMA_WINDOWS = (3, 5)
EMA_ALPHA = 0.3
TOP_DEFENCE, BOTTOM_DEFENCE = 10, 21  # rank <= 10: top-10 defence; >= 21: bottom-10 of 30
MAX_REST_DAYS = 30
# The shrunk season mean counts the prior season as this many games of the current one; half as
# many when the player has changed team since (his role there says less about his role here).
PRIOR_GAMES = 10
CHANGED_TEAM_PRIOR_SHARE = 0.5
# Usage and true shooting read the player's last games that have the box-score columns.
USAGE_WINDOW = 10
TRUE_SHOOTING_FTA_WEIGHT = 0.44

Features = dict[str, float | None]


@dataclass(frozen=True, slots=True)
class PlayerGame:
    game_date: dt.date
    season: str
    season_type: str
    team: str
    opponent: str
    is_home: bool
    minutes: float
    points: int
    rebounds: int
    assists: int
    threes: int | None
    steals: int | None = None
    blocks: int | None = None
    # Shooting and ball handling, for the usage and true-shooting features; None where the
    # source has no such column (FGA and FTA are missing from some bundled seasons).
    fga: int | None = None
    fta: int | None = None
    turnovers: int | None = None

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> "PlayerGame":
        """From a stored row whose columns carry the fields' names (every service that keeps
        box scores names them so); a store without the optional columns gives None."""
        return cls(
            *(row[name] for name in _PLAYER_GAME_FIELDS[:_REQUIRED]),
            *(_optional(row, name) for name in _PLAYER_GAME_FIELDS[_REQUIRED:]),
        )

    @property
    def shots(self) -> float | None:
        """True-shooting attempts: FGA + 0.44 FTA."""
        if self.fga is None or self.fta is None:
            return None
        return self.fga + TRUE_SHOOTING_FTA_WEIGHT * self.fta

    @property
    def plays(self) -> float | None:
        """Plays the player ended: FGA + 0.44 FTA + turnovers."""
        shots = self.shots
        return None if shots is None or self.turnovers is None else shots + self.turnovers

    def value(self, stat: str) -> float | None:
        """The game's value of a stat; a sum of stats (pra, pr, stocks, ...) adds up its parts
        (None when one is missing)."""
        if stat in PARTS:
            return total(stat, self.value)
        raw: float | int | None = getattr(self, stat)
        return None if raw is None else float(raw)

    @property
    def home_team(self) -> str:
        return self.team if self.is_home else self.opponent


_PLAYER_GAME_FIELDS = tuple(f.name for f in fields(PlayerGame))
_REQUIRED = _PLAYER_GAME_FIELDS.index("steals")


def _optional(row: Mapping[str, Any], name: str) -> Any:
    try:
        return row[name]
    except KeyError:
        return None


@dataclass(frozen=True, slots=True)
class GameContext:
    """The game a vector is for: known for a scheduled or played game, None for 'next game'."""

    game_date: dt.date
    season: str
    season_type: str
    team: str
    opponent: str
    is_home: bool

    @property
    def home_team(self) -> str:
        return self.team if self.is_home else self.opponent


@dataclass
class _Split:
    n: int = 0
    total: float = 0.0
    last: float | None = None

    def add(self, value: float) -> None:
        self.n += 1
        self.total += value
        self.last = value

    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n else None


@dataclass
class _StatState:
    recent: deque[float] = field(default_factory=lambda: deque(maxlen=max(WINDOWS)))
    recent_minutes: deque[float] = field(default_factory=lambda: deque(maxlen=max(WINDOWS)))
    ema: float | None = None
    season: str = ""
    season_split: _Split = field(default_factory=_Split)
    prior: _Split = field(default_factory=_Split)  # the latest earlier season with values
    career: _Split = field(default_factory=_Split)
    vs_opponent: dict[str, _Split] = field(default_factory=dict)
    vs_top: _Split = field(default_factory=_Split)
    vs_bottom: _Split = field(default_factory=_Split)

    def add(
        self, value: float, minutes: float, season: str, opponent: str, opponent_rank: int | None
    ) -> None:
        self.recent.append(value)
        self.recent_minutes.append(minutes)
        self.ema = value if self.ema is None else EMA_ALPHA * value + (1 - EMA_ALPHA) * self.ema
        if season != self.season:
            if self.season:
                self.prior = self.season_split
            self.season, self.season_split = season, _Split()
        self.season_split.add(value)
        self.career.add(value)
        self.vs_opponent.setdefault(opponent, _Split()).add(value)
        if opponent_rank is not None and opponent_rank <= TOP_DEFENCE:
            self.vs_top.add(value)
        elif opponent_rank is not None and opponent_rank >= BOTTOM_DEFENCE:
            self.vs_bottom.add(value)


def _sd(values: list[float]) -> float | None:
    if len(values) < 2:
        return None
    m = math.fsum(values) / len(values)
    return math.sqrt(math.fsum((v - m) ** 2 for v in values) / (len(values) - 1))


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _slope(values: list[float]) -> float | None:
    """Least-squares slope per game over the values, oldest first."""
    n = len(values)
    if n < 3:
        return None
    x_mean = (n - 1) / 2
    y_mean = math.fsum(values) / n
    sxx = math.fsum((i - x_mean) ** 2 for i in range(n))
    return math.fsum((i - x_mean) * (v - y_mean) for i, v in enumerate(values)) / sxx


# The window families' names by window: "sma_3", ...
_N, _SMA, _STD, _MIN, _MAX, _MEDIAN = (
    {w: f"{kind}_{w}" for w in WINDOWS} for kind in ("n", "sma", "std", "min", "max", "median")
)
_WMA = {w: f"wma_{w}" for w in WMA_WINDOWS}


@functools.cache
def _keys(stat: str) -> dict[str, str]:
    """The stat's feature names by family (`"sma_3"` -> `"points_sma_3"`): made once, not on
    every vector (formatting them was a tenth of a vector's cost)."""
    families = [f"{kind}_{w}" for w in WINDOWS for kind in ("n", "sma", "std", "min", "max")]
    families += [f"median_{w}" for w in WINDOWS] + [f"wma_{w}" for w in WMA_WINDOWS]
    families += [
        "ema",
        "season_avg",
        "season_n",
        "prior_season_avg",
        "prior_season_n",
        "season_shrunk",
        "career_avg",
        "career_n",
        "per_min_10",
        "slope_10",
        "momentum",
        "vs_top10_avg",
        "vs_top10_n",
        "vs_bottom10_avg",
        "vs_bottom10_n",
        "vs_opp_avg",
        "vs_opp_last",
    ]
    return {family: f"{stat}_{family}" for family in families}


def _stat_features(
    stat: str,
    st: _StatState,
    season: str,
    prior_weight: float,
    *,
    compact: bool = False,
) -> Features:
    """The stat's features; `compact`: only those of `COMPACT_FAMILIES`."""
    key = _keys(stat)
    out: Features = {}
    recent = list(st.recent)
    windows = [(w, recent[-w:]) for w in WINDOWS]
    for w, window in windows:
        out[key[_N[w]]] = float(len(window))
        out[key[_SMA[w]]] = math.fsum(window) / len(window) if window else None
        out[key[_STD[w]]] = _sd(window)
    out[key["ema"]] = st.ema
    same_season = st.season == season
    out[key["season_avg"]] = st.season_split.mean if same_season else None
    out[key["season_n"]] = float(st.season_split.n if same_season else 0)
    if same_season:
        prior, current = st.prior, st.season_split
    else:  # the game opens a season: the last one with values is the prior
        prior, current = (st.season_split if st.season else _Split()), _Split()
    out[key["prior_season_avg"]] = prior.mean
    out[key["prior_season_n"]] = float(prior.n)
    if prior.mean is None:
        out[key["season_shrunk"]] = current.mean
    else:
        k = PRIOR_GAMES * prior_weight
        out[key["season_shrunk"]] = (current.total + k * prior.mean) / (current.n + k)
    out[key["career_avg"]] = st.career.mean
    out[key["career_n"]] = float(st.career.n)
    if stat != "minutes":
        minutes = math.fsum(st.recent_minutes)
        out[key["per_min_10"]] = math.fsum(recent) / minutes if minutes > 0 else None
    if compact:
        return out
    for w, window in windows:
        out[key[_MIN[w]]] = min(window) if window else None
        out[key[_MAX[w]]] = max(window) if window else None
        out[key[_MEDIAN[w]]] = _median(window) if window else None
    for w in WMA_WINDOWS:
        window = recent[-w:]
        weights = range(1, len(window) + 1)
        out[key[_WMA[w]]] = (
            math.fsum(v * k for v, k in zip(window, weights, strict=True)) / sum(weights)
            if window
            else None
        )
    out[key["slope_10"]] = _slope(recent)
    sma5 = out[key["sma_5"]]
    out[key["momentum"]] = recent[-1] - sma5 if recent and sma5 is not None else None
    out[key["vs_top10_avg"]] = st.vs_top.mean
    out[key["vs_top10_n"]] = float(st.vs_top.n)
    out[key["vs_bottom10_avg"]] = st.vs_bottom.mean
    out[key["vs_bottom10_n"]] = float(st.vs_bottom.n)
    # Against the game's opponent: filled in by `PlayerState.vector`.
    out[key["vs_opp_avg"]] = None
    out[key["vs_opp_last"]] = None
    return out


@dataclass
class PlayerState:
    stats: dict[str, _StatState] = field(
        default_factory=lambda: {stat: _StatState() for stat in (*STATS, *COMPACT_STATS)}
    )
    dates: deque[dt.date] = field(default_factory=lambda: deque(maxlen=8))
    last: PlayerGame | None = None
    season: str = ""
    season_games: int = 0
    career_games: int = 0
    prior_team: str | None = None  # the team of the last game of the season before `season`
    team_streak: int = 0  # games in a row with the team of the last game
    vs_opponent_games: dict[str, int] = field(default_factory=dict)
    # The last games with the columns: those with plays (for the usage rate, which reads
    # their team box scores when a vector is made: a team box that comes late changes no
    # state) and (points, true-shooting attempts).
    played: deque[PlayerGame] = field(default_factory=lambda: deque(maxlen=USAGE_WINDOW))
    shooting: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=USAGE_WINDOW))
    # The history part of the last vector, by (season, team) it was made for: a player's
    # 'next' vector and his next game's vector read the same history, so the second reuses
    # it (about half of a backlog's vector work). Cleared by `add`; not pickled.
    _history: tuple[tuple[str, str | None], Features] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_history"] = None
        return state

    def add(self, game: PlayerGame, *, opponent_rank: int | None = None) -> None:
        """Fold in a played game. `opponent_rank`: the opponent's defensive rank as of that
        game's day (for the top-10/bottom-10 splits)."""
        if self.last is not None and game.game_date <= self.last.game_date:
            raise ValueError(
                f"games must be added in date order: {game.game_date} after {self.last.game_date}"
            )
        self._history = None
        for stat, st in self.stats.items():
            value = game.value(stat)
            if value is not None:
                st.add(value, game.minutes, game.season, game.opponent, opponent_rank)
        if game.season != self.season:
            self.prior_team = self.last.team if self.last is not None else None
            self.season, self.season_games = game.season, 0
        same_team = self.last is not None and self.last.team == game.team
        self.team_streak = self.team_streak + 1 if same_team else 1
        self.season_games += 1
        self.career_games += 1
        self.vs_opponent_games[game.opponent] = self.vs_opponent_games.get(game.opponent, 0) + 1
        self.dates.append(game.game_date)
        self.last = game
        shots = game.shots
        if shots is not None:
            self.shooting.append((float(game.points), shots))
        if game.plays is not None and game.minutes > 0:
            self.played.append(game)

    def vector(self, context: GameContext | None, *, league: League | None) -> Features:
        """Features before `context`'s game; with no context, before the player's next game
        (history only: the context features are None)."""
        season = context.season if context else (self.last.season if self.last else "")
        team = context.team if context else (self.last.team if self.last else None)
        made = self._history
        if made is None or made[0] != (season, team):
            made = self._history = ((season, team), self._history_features(season, team))
        out = dict(made[1])
        if context is not None:
            for stat, st in self.stats.items():
                if stat not in COMPACT_STATS:
                    key = _keys(stat)
                    versus = st.vs_opponent.get(context.opponent)
                    out[key["vs_opp_avg"]] = versus.mean if versus else None
                    out[key["vs_opp_last"]] = versus.last if versus else None
        out.update(self._context(context, league))
        return out

    def _history_features(self, season: str, team: str | None) -> Features:
        """What a vector for a game of `season` with `team` reads from the history alone (the
        splits against an opponent left None)."""
        prior_team = (
            self.prior_team if self.season == season else (self.last.team if self.last else None)
        )
        changed = None if prior_team is None or team is None else float(prior_team != team)
        weight = CHANGED_TEAM_PRIOR_SHARE if changed else 1.0
        out: Features = {}
        for stat, st in self.stats.items():
            compact = stat in COMPACT_STATS
            out.update(_stat_features(stat, st, season, weight, compact=compact))
        sma3, sma10 = out["minutes_sma_3"], out["minutes_sma_10"]
        out["minutes_trend"] = sma3 - sma10 if sma3 is not None and sma10 is not None else None
        out["career_games"] = float(self.career_games)
        out["season_games"] = float(self.season_games if self.season == season else 0)
        out["team_changed"] = changed
        out["with_team_games"] = float(
            self.team_streak if self.last is not None and self.last.team == team else 0
        )
        attempts = math.fsum(a for _, a in self.shooting)
        out["true_shooting_10"] = (
            math.fsum(p for p, _ in self.shooting) / (2.0 * attempts) if attempts > 0 else None
        )
        out["true_shooting_n_10"] = float(len(self.shooting))
        return out

    def _context(self, ctx: GameContext | None, league: League | None) -> Features:
        keys = (
            "is_home",
            "is_playoffs",
            "days_rest",
            "back_to_back",
            "games_last_7_days",
            "tz_shift_hours",
            "at_altitude",
            "vs_opp_games",
            "opp_def_rating",
            "opp_pace",
            "opp_def_rank",
            "opp_team_games",
            "new_team",
            "games_missed",
            "usage_10",
            "usage_n_10",
            *OUT_FEATURES,
        )
        out: Features = dict.fromkeys(keys)
        if ctx is None:
            return out
        out["is_home"] = float(ctx.is_home)
        out["is_playoffs"] = float(ctx.season_type == "Playoffs")
        out["at_altitude"] = float(ctx.home_team == ALTITUDE_TEAM)
        out["vs_opp_games"] = float(self.vs_opponent_games.get(ctx.opponent, 0))
        out["games_last_7_days"] = float(
            sum(1 for d in self.dates if 0 < (ctx.game_date - d).days <= 7)
        )
        if self.last is not None:
            rest = min((ctx.game_date - self.last.game_date).days - 1, MAX_REST_DAYS)
            out["days_rest"] = float(rest)
            out["back_to_back"] = float(rest == 0)
            here = TEAM_UTC_OFFSET.get(ctx.home_team)
            there = TEAM_UTC_OFFSET.get(self.last.home_team)
            if here is not None and there is not None:
                out["tz_shift_hours"] = float(here - there)
            out["new_team"] = float(ctx.team != self.last.team)
        if league is not None:
            # This season's games only: the stale marks that recompute a vector after a late
            # team box are kept per season, so a vector must not read an earlier season's.
            rates = [
                rate
                for g in self.played
                if g.season == ctx.season
                and (rate := usage_rate(g, league.box(g.team, g.season, g.game_date))) is not None
            ]
            out["usage_10"] = math.fsum(rates) / len(rates) if rates else None
            out["usage_n_10"] = float(len(rates))
            out.update(teammates_out(league.out(ctx.team, ctx.game_date)))
            after = self.last.game_date if self.last and self.last.season == ctx.season else None
            missed = league.games_between(ctx.team, ctx.season, after=after, before=ctx.game_date)
            out["games_missed"] = float(missed)
            rating = league.rating(ctx.opponent, ctx.season, ctx.game_date)
            if rating is not None:
                out["opp_def_rating"] = rating.defensive_rating
                out["opp_pace"] = rating.pace
                out["opp_team_games"] = float(rating.games)
                rank = league.rank(ctx.opponent, ctx.season, ctx.game_date)
                out["opp_def_rank"] = None if rank is None else float(rank)
        return out


OUT_FEATURES = ("out_n", "out_minutes", "out_points", "out_rebounds", "out_assists")


def teammates_out(report: TeamReport | None) -> Features:
    """What the players listed out take from the team: how many, and the sums of their recent
    means (minutes, points, rebounds, assists; an absent player without them counts in `out_n`
    only). All None without a report for the game."""
    if report is None:
        return dict.fromkeys(OUT_FEATURES)
    absent = report.absent
    return {
        "out_n": float(len(absent)),
        "out_minutes": math.fsum(a.minutes for a in absent if a.minutes is not None),
        "out_points": math.fsum(a.points for a in absent if a.points is not None),
        "out_rebounds": math.fsum(a.rebounds for a in absent if a.rebounds is not None),
        "out_assists": math.fsum(a.assists for a in absent if a.assists is not None),
    }


def usage_rate(game: PlayerGame, team_box: TeamGame | None) -> float | None:
    """The share of his team's plays a player ended while on the floor, in percent:
    100 × plays × (team minutes / 5) / (minutes × team plays), plays = FGA + 0.44 FTA +
    turnovers. None without the columns, the team's box or any minutes."""
    plays = game.plays
    if plays is None or game.minutes <= 0 or team_box is None:
        return None
    if team_box.plays is None or team_box.plays <= 0 or team_box.minutes <= 0:
        return None
    return 100.0 * plays * (team_box.minutes / 5.0) / (game.minutes * team_box.plays)


def context_of(game: PlayerGame) -> GameContext:
    return GameContext(
        game.game_date, game.season, game.season_type, game.team, game.opponent, game.is_home
    )


def walk(
    history: list[PlayerGame], *, league: League | None, since: dt.date | None = None
) -> tuple[list[tuple[PlayerGame, Features]], PlayerState]:
    """The batch path: each game's pre-game vector, in date order, and the state after them.
    `since`: only the vectors of the games on or after that day (the state still folds in
    every game; a vector costs far more than folding a game in)."""
    state = PlayerState()
    out = []
    for game in history:
        if since is None or game.game_date >= since:
            out.append((game, state.vector(context_of(game), league=league)))
        rank = league.rank(game.opponent, game.season, game.game_date) if league else None
        state.add(game, opponent_rank=rank)
    return out, state
