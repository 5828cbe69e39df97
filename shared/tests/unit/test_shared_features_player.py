"""The player feature engine (statmuse_shared.features.player) on real and synthetic histories.

Real rows come from data/nba (player and team game logs, gzip CSV, read here: no network, no
database). LeBron James' last four 2022-23 playoff games (the 2022-23 log has no FG3M: threes
are missing) followed by his first fifteen 2023-24 games is the hand-checked history.

One module, over 400 lines: every test here is of `PlayerState` on the same hand-checked
history.
"""

import csv
import dataclasses
import datetime as dt
import functools
import gzip
import math
import random
import statistics
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from statmuse_shared.features import (
    CATALOGUE,
    STATS,
    Features,
    GameContext,
    League,
    PlayerGame,
    PlayerState,
    TeamGame,
    context_of,
    feature_names,
    possessions,
    walk,
)
from statmuse_shared.features.player import (
    CHANGED_TEAM_PRIOR_SHARE,
    EMA_ALPHA,
    MAX_REST_DAYS,
    PRIOR_GAMES,
    WINDOWS,
    WMA_WINDOWS,
)
from statmuse_shared.features.teams import TEAM_UTC_OFFSET, Absent, TeamReport

DATA = Path(__file__).resolve().parents[3] / "data" / "nba"
LEBRON = 2544
CONTEXT_KEYS = (
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
    "out_n",
    "out_minutes",
    "out_points",
    "out_rebounds",
    "out_assists",
)
# Features that only exist with a known opponent: None in a 'next' vector.
OPPONENT_KEYS = CONTEXT_KEYS + tuple(f"{s}_vs_opp_{k}" for s in STATS for k in ("avg", "last"))


# --- real data -------------------------------------------------------------------------------


@functools.cache
def _player_rows(season: str) -> tuple[dict[str, str], ...]:
    with gzip.open(DATA / "player_game_logs" / f"{season}.csv.gz", "rt", newline="") as f:
        return tuple(csv.DictReader(f))


def _player_game(row: dict[str, str]) -> PlayerGame:
    is_home = " vs. " in row["MATCHUP"]
    opponent = row["MATCHUP"].split(" vs. " if is_home else " @ ")[1]
    return PlayerGame(
        game_date=dt.date.fromisoformat(row["GAME_DATE"]),
        season=row["SEASON"],
        season_type=row["SEASON_TYPE"],
        team=row["TEAM_ABBREVIATION"],
        opponent=opponent,
        is_home=is_home,
        minutes=float(row["MIN"]),
        points=int(row["PTS"]),
        rebounds=int(row["REB"]),
        assists=int(row["AST"]),
        threes=int(row["FG3M"]) if row["FG3M"] else None,
        steals=int(row["STL"]) if row["STL"] else None,
        blocks=int(row["BLK"]) if row["BLK"] else None,
        fga=int(row["FGA"]) if row["FGA"] else None,
        fta=int(row["FTA"]) if row["FTA"] else None,
        turnovers=int(row["TOV"]) if row["TOV"] else None,
    )


@functools.cache
def _histories(season: str) -> dict[int, tuple[PlayerGame, ...]]:
    out: dict[int, list[PlayerGame]] = {}
    for row in _player_rows(season):
        out.setdefault(int(row["PLAYER_ID"]), []).append(_player_game(row))
    return {pid: tuple(sorted(games, key=lambda g: g.game_date)) for pid, games in out.items()}


def history(player_id: int, *seasons: str) -> list[PlayerGame]:
    return [g for s in seasons for g in _histories(s).get(player_id, ())]


@functools.cache
def _team_games(season: str) -> tuple[TeamGame, ...]:
    """One TeamGame per team row; points allowed = the opponent row's PTS (PLUS_MINUS is
    broken in a few rows, e.g. GAME_ID 0022300036)."""
    with gzip.open(DATA / "team_game_logs" / f"{season}.csv.gz", "rt", newline="") as f:
        rows = list(csv.DictReader(f))
    by_game: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_game.setdefault(row["GAME_ID"], []).append(row)
    out = []
    for pair in by_game.values():
        assert len(pair) == 2
        for row, other in (pair, pair[::-1]):
            poss = possessions(
                fga=int(row["FGA"]), oreb=int(row["OREB"]), tov=int(row["TOV"]), fta=int(row["FTA"])
            )
            out.append(
                TeamGame(
                    dt.date.fromisoformat(row["GAME_DATE"]),
                    row["SEASON"],
                    row["TEAM_ABBREVIATION"],
                    int(other["PTS"]),
                    poss,
                    float(row["MIN"]),
                    int(row["FGA"]) + 0.44 * int(row["FTA"]) + int(row["TOV"]),
                )
            )
    return tuple(sorted(out, key=lambda g: (g.game_date, g.team)))


def league_of(games: list[TeamGame] | tuple[TeamGame, ...]) -> League:
    league = League()
    for game in games:
        league.add(game)
    return league


def real_league(*seasons: str) -> League:
    return league_of([g for s in seasons for g in _team_games(s)])


def lebron() -> list[PlayerGame]:
    """4 playoff games of 2022-23 (threes missing) + the first 15 of 2023-24."""
    return history(LEBRON, "2022-23")[-4:] + history(LEBRON, "2023-24")[:15]


# --- helpers ---------------------------------------------------------------------------------


def assert_same(a: Features, b: Features, *, where: str = "") -> None:
    assert a.keys() == b.keys(), where
    for name, x in a.items():
        y = b[name]
        if x is None or y is None:
            assert x is y, f"{where} {name}: {x} != {y}"  # both None
        else:
            assert math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9), f"{where} {name}: {x} != {y}"


def differs(a: Features, b: Features) -> bool:
    for name, x in a.items():
        y = b[name]
        if (x is None) != (y is None) or (
            x is not None and y is not None and not math.isclose(x, y, rel_tol=1e-12)
        ):
            return True
    return False


def vectors(history: list[PlayerGame], league: League | None = None) -> list[Features]:
    return [features for _, features in walk(history, league=league)[0]]


def reference_stat_features(
    before: list[PlayerGame],
    stat: str,
    season: str,
    opponent: str | None,
    prior_weight: float = 1.0,
) -> Features:
    """A slow, obvious re-implementation (stdlib statistics) of one stat's history features."""
    games = [g for g in before if g.value(stat) is not None]
    values = [g.value(stat) for g in games]
    values_f = [float(v) for v in values if v is not None]
    out: Features = {}
    for w in WINDOWS:
        window = values_f[-w:]
        out[f"{stat}_n_{w}"] = float(len(window))
        out[f"{stat}_sma_{w}"] = statistics.fmean(window) if window else None
        out[f"{stat}_std_{w}"] = statistics.stdev(window) if len(window) >= 2 else None
        out[f"{stat}_min_{w}"] = min(window) if window else None
        out[f"{stat}_max_{w}"] = max(window) if window else None
        out[f"{stat}_median_{w}"] = statistics.median(window) if window else None
    for w in WMA_WINDOWS:
        window = values_f[-w:]
        weights = list(range(1, len(window) + 1))
        out[f"{stat}_wma_{w}"] = (
            sum(v * k for v, k in zip(window, weights, strict=True)) / sum(weights)
            if window
            else None
        )
    ema = None
    for v in values_f:
        ema = v if ema is None else EMA_ALPHA * v + (1 - EMA_ALPHA) * ema
    out[f"{stat}_ema"] = ema
    this_season = [float(g.value(stat) or 0) for g in games if g.season == season]
    out[f"{stat}_season_avg"] = statistics.fmean(this_season) if this_season else None
    out[f"{stat}_season_n"] = float(len(this_season))
    out[f"{stat}_career_avg"] = statistics.fmean(values_f) if values_f else None
    out[f"{stat}_career_n"] = float(len(values_f))
    earlier = [g.season for g in games if g.season != season]
    prior = [float(g.value(stat) or 0) for g in games if earlier and g.season == earlier[-1]]
    out[f"{stat}_prior_season_avg"] = statistics.fmean(prior) if prior else None
    out[f"{stat}_prior_season_n"] = float(len(prior))
    k = PRIOR_GAMES * prior_weight
    out[f"{stat}_season_shrunk"] = (
        (sum(this_season) + k * statistics.fmean(prior)) / (len(this_season) + k)
        if prior
        else out[f"{stat}_season_avg"]
    )
    last10 = values_f[-10:]
    out[f"{stat}_slope_10"] = (
        statistics.linear_regression(range(len(last10)), last10).slope if len(last10) >= 3 else None
    )
    sma5 = out[f"{stat}_sma_5"]
    out[f"{stat}_momentum"] = values_f[-1] - sma5 if sma5 is not None else None
    if stat != "minutes":
        minutes = sum(g.minutes for g in games[-10:])
        out[f"{stat}_per_min_10"] = sum(last10) / minutes if minutes > 0 else None
    versus = [float(g.value(stat) or 0) for g in games if g.opponent == opponent]
    out[f"{stat}_vs_opp_avg"] = statistics.fmean(versus) if versus else None
    out[f"{stat}_vs_opp_last"] = versus[-1] if versus else None
    return out


# --- 1. hand-computed features on a real history ---------------------------------------------


def test_real_history_is_what_the_hand_computations_assume() -> None:
    h = lebron()
    assert [(g.game_date.isoformat(), g.points, g.threes) for g in h[:6]] == [
        ("2023-05-16", 26, None),
        ("2023-05-18", 22, None),
        ("2023-05-20", 23, None),
        ("2023-05-22", 40, None),
        ("2023-10-24", 21, 1),
        ("2023-10-26", 21, 1),
    ]
    assert [g.points for g in h[4:14]] == [21, 21, 27, 19, 35, 24, 30, 18, 32, 16]
    assert [g.minutes for g in h[4:14]] == [29, 35, 39, 33, 42, 35, 37, 27, 36, 23]
    assert [g.threes for g in h[4:14]] == [1, 1, 3, 2, 4, 2, 0, 0, 3, 3]


def test_features_before_the_first_game_of_a_new_season() -> None:
    """Before 2023-10-24 (LAL @ DEN): four 2022-23 playoff games behind, none this season."""
    v = vectors(lebron())[4]
    assert v["points_n_3"] == 3
    assert v["points_sma_3"] == pytest.approx((22 + 23 + 40) / 3)
    assert v["points_n_5"] == 4  # only four games exist: the count says so
    assert v["points_sma_5"] == pytest.approx(111 / 4)
    assert v["points_n_10"] == 4
    assert v["points_sma_10"] == pytest.approx(27.75)
    assert v["points_wma_3"] == pytest.approx((22 * 1 + 23 * 2 + 40 * 3) / 6)
    assert v["points_wma_5"] == pytest.approx((26 * 1 + 22 * 2 + 23 * 3 + 40 * 4) / 10)
    ema = 26.0
    for x in (22, 23, 40):
        ema = 0.3 * x + 0.7 * ema
    assert v["points_ema"] == pytest.approx(ema)
    assert v["points_ema"] == pytest.approx(28.982)
    assert v["points_std_3"] == pytest.approx(
        math.sqrt(((22 - 85 / 3) ** 2 + (23 - 85 / 3) ** 2 + (40 - 85 / 3) ** 2) / 2)
    )
    assert v["points_min_3"] == 22
    assert v["points_max_3"] == 40
    assert v["points_median_3"] == 23
    assert v["points_median_5"] == pytest.approx((23 + 26) / 2)
    assert v["points_season_avg"] is None  # a new season: nothing yet
    assert v["points_season_n"] == 0
    assert v["season_games"] == 0
    assert v["points_career_avg"] == pytest.approx(27.75)
    assert v["points_career_n"] == 4
    assert v["career_games"] == 4
    # x = 0..3, y = 26, 22, 23, 40: sxy = 21.5, sxx = 5
    assert v["points_slope_10"] == pytest.approx(4.3)
    assert v["points_momentum"] == pytest.approx(40 - 27.75)
    assert v["points_per_min_10"] == pytest.approx(111 / (40 + 40 + 43 + 48))
    assert v["minutes_trend"] == pytest.approx((40 + 43 + 48) / 3 - (40 + 40 + 43 + 48) / 4)
    assert v["pra_sma_3"] == pytest.approx((41 + 42 + 59) / 3)


def test_features_after_ten_games_of_a_season() -> None:
    """Before 2023-11-15 (vs SAC): ten 2023-24 games and the four playoff games behind."""
    v = vectors(lebron())[14]
    points = [21, 21, 27, 19, 35, 24, 30, 18, 32, 16]
    minutes = [29, 35, 39, 33, 42, 35, 37, 27, 36, 23]
    assert (v["points_n_3"], v["points_n_5"], v["points_n_10"]) == (3, 5, 10)
    assert v["points_sma_3"] == pytest.approx(22.0)
    assert v["points_sma_5"] == pytest.approx(24.0)
    assert v["points_sma_10"] == pytest.approx(24.3)
    assert v["points_wma_3"] == pytest.approx((18 + 2 * 32 + 3 * 16) / 6)
    assert v["points_std_3"] == pytest.approx(math.sqrt(76))  # devs -4, 10, -6 around 22
    assert v["points_std_10"] == pytest.approx(statistics.stdev(points))
    assert (v["points_min_10"], v["points_max_10"]) == (16, 35)
    assert v["points_median_10"] == pytest.approx((21 + 24) / 2)
    assert v["points_season_avg"] == pytest.approx(24.3)
    assert v["points_season_n"] == 10
    assert v["season_games"] == 10
    assert v["points_career_avg"] == pytest.approx((111 + 243) / 14)
    assert v["points_career_n"] == 14
    x_mean, y_mean = 4.5, 24.3
    slope = sum((i - x_mean) * (y - y_mean) for i, y in enumerate(points)) / sum(
        (i - x_mean) ** 2 for i in range(10)
    )
    assert v["points_slope_10"] == pytest.approx(slope)
    assert v["points_momentum"] == pytest.approx(16 - 24.0)
    assert v["points_per_min_10"] == pytest.approx(243 / 336)
    assert v["minutes_sma_3"] == pytest.approx((27 + 36 + 23) / 3)
    assert v["minutes_sma_10"] == pytest.approx(sum(minutes) / 10)
    assert v["minutes_trend"] == pytest.approx((27 + 36 + 23) / 3 - 33.6)
    assert v["threes_sma_10"] == pytest.approx(1.9)
    assert v["threes_n_10"] == 10
    assert v["threes_career_n"] == 10  # the playoff games have no threes


def test_engine_matches_a_slow_reference_on_every_game_and_stat() -> None:
    h = lebron()
    for i, v in enumerate(vectors(h)):
        game = h[i]
        for stat in STATS:
            ref = reference_stat_features(h[:i], stat, game.season, game.opponent)
            assert_same({k: v[k] for k in ref}, ref, where=f"game {i} {stat}")


def test_prior_season_and_shrunk_season_mean_on_a_real_history() -> None:
    """The four 2022-23 playoff games are LeBron's prior season for 2023-24."""
    vs = vectors(lebron())
    first, eleventh = vs[4], vs[14]
    assert first["points_prior_season_avg"] == pytest.approx(111 / 4)
    assert first["points_prior_season_n"] == 4
    assert first["points_season_shrunk"] == pytest.approx(111 / 4)  # nothing this season yet
    assert first["team_changed"] == 0
    assert first["with_team_games"] == 4
    # ten 2023-24 games (243 points) against ten games' worth of the prior mean
    k = PRIOR_GAMES
    assert eleventh["points_season_shrunk"] == pytest.approx((243 + k * 111 / 4) / (10 + k))
    assert eleventh["points_prior_season_avg"] == pytest.approx(111 / 4)
    # the playoff games had no threes: no prior for them, the season mean stands
    assert eleventh["threes_prior_season_avg"] is None
    assert eleventh["threes_prior_season_n"] == 0
    assert eleventh["threes_season_shrunk"] == eleventh["threes_season_avg"]
    # before any 2023-24 game the prior is the season of the last game
    assert vs[3]["points_prior_season_avg"] is None  # 2022-23 was the first season here


def _game(day: str, season: str, team: str, points: int) -> PlayerGame:
    return PlayerGame(
        dt.date.fromisoformat(day), season, "Regular Season", team, "DEN", True, 30.0,
        points, 5, 5, 1,
    )  # fmt: skip


def test_a_team_change_halves_the_prior_and_shows_in_the_team_features() -> None:
    h = [
        _game("2022-03-01", "2021-22", "LAL", 20),
        _game("2022-03-03", "2021-22", "LAL", 30),
        _game("2022-10-20", "2022-23", "BOS", 10),  # signed in the summer
        _game("2022-10-22", "2022-23", "BOS", 14),
        _game("2023-01-10", "2022-23", "MIA", 8),  # traded
    ]
    vs = vectors(h)
    opening = vs[2]
    assert opening["team_changed"] == 1
    assert opening["new_team"] == 1
    assert opening["with_team_games"] == 0
    k = PRIOR_GAMES * CHANGED_TEAM_PRIOR_SHARE
    assert opening["points_season_shrunk"] == pytest.approx(25.0)
    assert vs[3]["points_season_shrunk"] == pytest.approx((10 + k * 25) / (1 + k))
    assert vs[3]["new_team"] == 0
    assert vs[3]["with_team_games"] == 1
    assert vs[4]["new_team"] == 1
    assert vs[4]["with_team_games"] == 0
    assert vs[4]["team_changed"] == 1
    assert vs[1]["team_changed"] is None  # no season before this one
    # the same history on one team: the full prior weight
    same = vectors([dataclasses.replace(g, team="LAL") for g in h])
    assert same[3]["team_changed"] == 0
    assert same[3]["points_season_shrunk"] == pytest.approx((10 + PRIOR_GAMES * 25) / 11)
    assert same[3]["with_team_games"] == 3
    for ref_weight, v in ((CHANGED_TEAM_PRIOR_SHARE, vs[3]), (1.0, same[3])):
        ref = reference_stat_features(h[:3], "points", "2022-23", "DEN", ref_weight)
        assert_same({n: v[n] for n in ref}, ref, where=f"weight {ref_weight}")


def test_games_missed_counts_the_teams_games_between_from_the_box_scores() -> None:
    h = history(LEBRON, "2023-24")
    teams = _team_games("2023-24")
    lal = sorted(g.game_date for g in teams if g.team == "LAL")
    vs = vectors(h, league_of(teams))
    missed = []
    for i, (game, v) in enumerate(zip(h, vs, strict=True)):
        after = h[i - 1].game_date if i else None
        expected = sum(1 for d in lal if (after is None or d > after) and d < game.game_date)
        assert v["games_missed"] == expected, game.game_date
        missed.append(expected)
    assert max(missed) >= 2  # he did miss games that season: the check is not vacuous
    assert vs[0]["games_missed"] == 0  # opening night
    assert vectors(h, None)[5]["games_missed"] is None  # no team data, no count


def test_usage_and_true_shooting_on_a_real_history() -> None:
    """Computed again here from the raw CSV rows (LeBron's 2023-24 and the Lakers' boxes),
    not through PlayerGame or TeamGame: the last up-to-10 games with the columns, before the
    game day; the usage rate only where the team's box is known."""
    rows = [r for r in _player_rows("2023-24") if int(r["PLAYER_ID"]) == LEBRON]
    rows.sort(key=lambda r: r["GAME_DATE"])
    with gzip.open(DATA / "team_game_logs" / "2023-24.csv.gz", "rt", newline="") as f:
        lal = {r["GAME_DATE"]: r for r in csv.DictReader(f) if r["TEAM_ABBREVIATION"] == "LAL"}
    h = history(LEBRON, "2023-24")
    teams = _team_games("2023-24")
    vs = vectors(h, league_of(teams))
    i = 14
    before = [r for r in rows[:i] if r["FGA"] and r["FTA"] and r["TOV"]][-10:]
    assert len(before) == 10  # the check reads ten real games
    usage = []
    for r in before:
        t = lal[r["GAME_DATE"]]
        plays = int(r["FGA"]) + 0.44 * int(r["FTA"]) + int(r["TOV"])
        team_plays = int(t["FGA"]) + 0.44 * int(t["FTA"]) + int(t["TOV"])
        usage.append(100 * plays * (float(t["MIN"]) / 5) / (float(r["MIN"]) * team_plays))
    assert vs[i]["usage_10"] == pytest.approx(sum(usage) / 10, rel=1e-12)
    assert vs[i]["usage_n_10"] == 10
    assert 20 < vs[i]["usage_10"] < 40  # a star's share, not a fraction or a count
    points = sum(int(r["PTS"]) for r in before)
    shots = sum(int(r["FGA"]) + 0.44 * int(r["FTA"]) for r in before)
    assert vs[i]["true_shooting_10"] == pytest.approx(points / (2 * shots), rel=1e-12)
    assert vs[i]["true_shooting_n_10"] == 10
    # Opening night: nothing before it. Without team data: no usage, true shooting still.
    assert vs[0]["usage_10"] is None
    assert vs[0]["usage_n_10"] == 0
    assert vs[0]["true_shooting_10"] is None
    assert vs[0]["true_shooting_n_10"] == 0
    alone = vectors(h, None)[i]
    assert alone["usage_10"] is None
    assert alone["usage_n_10"] is None
    assert alone["true_shooting_10"] == vs[i]["true_shooting_10"]
    # A new season starts without usage (the window keeps to the game's season: stale marks
    # after a late team box are per season), true shooting carries over.
    both = history(LEBRON, "2021-22", "2022-23", "2023-24")
    opener = next(k for k, g in enumerate(both) if g.season == "2023-24")
    league = league_of(_team_games("2021-22") + _team_games("2022-23") + _team_games("2023-24"))
    across = vectors(both, league)
    assert across[opener]["usage_n_10"] == 0
    assert across[opener]["usage_10"] is None
    assert across[opener + 1]["usage_n_10"] == 1
    assert across[opener]["true_shooting_n_10"] == 10  # his last ten of 2021-22 with FGA
    # A season without the columns (2022-23 has no FGA in the source): no values, zero counts.
    old = vectors(history(LEBRON, "2022-23"), league_of(_team_games("2022-23")))
    assert all(v["usage_n_10"] == 0 and v["true_shooting_10"] is None for v in old)


def test_std_needs_two_games_and_slope_three() -> None:
    v = vectors(lebron())
    assert v[1]["points_std_3"] is None
    assert v[1]["points_n_3"] == 1
    assert v[2]["points_std_3"] == pytest.approx(statistics.stdev([26, 22]))
    assert v[2]["points_slope_10"] is None
    assert v[3]["points_slope_10"] == pytest.approx(-1.5)  # 26, 22, 23: sxy = -3, sxx = 2


def test_ema_is_seeded_with_the_first_value() -> None:
    v = vectors(lebron())
    assert v[1]["points_ema"] == 26.0
    assert v[2]["points_ema"] == pytest.approx(0.3 * 22 + 0.7 * 26)


# --- 2. missing data is explicit --------------------------------------------------------------


def test_missing_threes_are_skipped_and_counted() -> None:
    """Before 2023-10-29: 6 games, but only two of them (2023-24) have threes."""
    v = vectors(lebron())[6]
    assert v["points_n_3"] == 3
    assert v["points_n_10"] == 6
    assert (v["threes_n_3"], v["threes_n_5"], v["threes_n_10"]) == (2, 2, 2)
    assert v["threes_sma_3"] == 1.0
    assert v["threes_std_3"] == 0.0
    assert v["threes_slope_10"] is None
    assert v["threes_career_n"] == 2
    assert v["threes_season_n"] == 2
    # Per-minute over the games that have the stat only.
    assert v["threes_per_min_10"] == pytest.approx(2 / (29 + 35))
    assert v["points_per_min_10"] == pytest.approx(153 / 235)


def test_a_stat_never_recorded_is_none_with_zero_counts() -> None:
    v = vectors(lebron())[4]
    for w in WINDOWS:
        assert v[f"threes_n_{w}"] == 0
        for k in ("sma", "std", "min", "max", "median"):
            assert v[f"threes_{k}_{w}"] is None
    never = (
        "wma_3",
        "wma_5",
        "ema",
        "season_avg",
        "career_avg",
        "slope_10",
        "momentum",
        "per_min_10",
        "vs_top10_avg",
        "vs_bottom10_avg",
        "vs_opp_avg",
        "vs_opp_last",
    )
    for k in never:
        assert v[f"threes_{k}"] is None, k
    assert v["threes_career_n"] == 0
    assert v["threes_season_n"] == 0
    assert v["vs_opp_games"] == 4  # the games happened; only the stat is missing


def test_no_history_means_none_never_zero() -> None:
    ctx = context_of(lebron()[4])
    for v in (PlayerState().vector(ctx, league=None), PlayerState().vector(None, league=None)):
        for name, value in v.items():
            if name in CONTEXT_KEYS:
                continue
            if "_n_" in name or name.endswith(("_n", "_games")):
                assert value == 0, name
            else:
                assert value is None, name
    v = PlayerState().vector(ctx, league=None)
    assert v["days_rest"] is None
    assert v["tz_shift_hours"] is None
    assert v["back_to_back"] is None
    assert v["games_last_7_days"] == 0
    assert v["vs_opp_games"] == 0


def test_zero_minutes_gives_no_per_minute_rate() -> None:
    g = PlayerGame(
        dt.date(2024, 1, 1), "2023-24", "Regular Season", "LAL", "BOS", True, 0.0, 0, 0, 0, 0
    )
    state = PlayerState()
    state.add(g)
    v = state.vector(None, league=None)
    assert v["points_per_min_10"] is None
    assert v["points_sma_3"] == 0.0
    assert v["points_n_3"] == 1


# --- 3. context features ----------------------------------------------------------------------


def test_context_of_real_games() -> None:
    h = lebron()
    v = vectors(h)
    first = v[4]  # 2023-10-24 at DEN, 155 days after 2023-05-22 at home vs DEN
    assert first["is_home"] == 0
    assert first["is_playoffs"] == 0
    assert first["days_rest"] == MAX_REST_DAYS
    assert first["back_to_back"] == 0
    assert first["games_last_7_days"] == 0
    assert first["tz_shift_hours"] == 1  # LAL (-8) -> DEN (-7)
    assert first["at_altitude"] == 1
    assert first["vs_opp_games"] == 4
    assert first["points_vs_opp_avg"] == pytest.approx(27.75)
    assert first["points_vs_opp_last"] == 40
    assert v[1]["is_playoffs"] == 1
    assert v[1]["days_rest"] == 1

    sac = v[14]  # 2023-11-15 vs SAC, the day after 2023-11-14 vs MEM
    assert sac["is_home"] == 1
    assert sac["at_altitude"] == 0
    assert sac["days_rest"] == 0
    assert sac["back_to_back"] == 1
    assert sac["games_last_7_days"] == 3  # 11-08, 11-10, 11-14
    assert sac["tz_shift_hours"] == 0
    assert sac["vs_opp_games"] == 1
    assert sac["points_vs_opp_avg"] == 27
    assert sac["points_vs_opp_last"] == 27
    assert sac["rebounds_vs_opp_last"] == 15

    dal = v[18]  # 2023-11-22 vs DAL, after 11-15, 11-17, 11-19, 11-21
    assert dal["games_last_7_days"] == 4  # 11-15 is exactly 7 days back: in; 11-14: out
    assert dal["back_to_back"] == 1
    uta = v[17]  # 2023-11-21 vs UTA, after 11-14, 11-15, 11-17, 11-19
    assert uta["games_last_7_days"] == 4  # 11-14 is exactly 7 days back; 11-10 is 11
    assert uta["days_rest"] == 1
    assert uta["back_to_back"] == 0


def test_context_of_a_scheduled_game() -> None:
    state = PlayerState()
    for g in lebron():
        state.add(g)
    # last game: 2023-11-22 at home in LAL
    at_bos = GameContext(dt.date(2023, 11, 25), "2023-24", "Playoffs", "LAL", "BOS", False)
    v = state.vector(at_bos, league=None)
    assert v["tz_shift_hours"] == 3 == TEAM_UTC_OFFSET["BOS"] - TEAM_UTC_OFFSET["LAL"]
    assert v["is_playoffs"] == 1
    assert v["is_home"] == 0
    assert v["at_altitude"] == 0
    assert v["days_rest"] == 2
    assert v["back_to_back"] == 0
    assert v["vs_opp_games"] == 0
    assert v["points_vs_opp_avg"] is None
    vs_phx = dataclasses.replace(at_bos, opponent="PHX", is_home=True)
    v = state.vector(vs_phx, league=None)
    assert v["vs_opp_games"] == 2  # 10-26 (21 pts), 11-10 (32 pts)
    assert v["points_vs_opp_avg"] == pytest.approx(26.5)
    assert v["points_vs_opp_last"] == 32
    assert v["tz_shift_hours"] == 0
    # A Nuggets home game is at altitude for either side.
    assert (
        state.vector(dataclasses.replace(at_bos, opponent="DEN"), league=None)["at_altitude"] == 1
    )
    den_home = GameContext(dt.date(2023, 11, 25), "2023-24", "Regular Season", "DEN", "LAL", True)
    assert state.vector(den_home, league=None)["at_altitude"] == 1


def test_next_vector_has_every_context_feature_none() -> None:
    state = PlayerState()
    for g in lebron():
        state.add(g)
    v = state.vector(None, league=real_league("2023-24"))
    for name in OPPONENT_KEYS:
        assert v[name] is None, name
    assert v["points_sma_3"] == pytest.approx((17 + 26 + 37) / 3)  # history is all there
    assert v["season_games"] == 15


def test_opponent_strength_comes_from_the_league_as_of_the_game_day() -> None:
    h = lebron()
    league = real_league("2022-23", "2023-24")
    walked = vectors(h, league)
    assert walked[4]["opp_def_rating"] is None  # DEN had played no 2023-24 game yet
    assert walked[4]["opp_team_games"] is None
    assert walked[4]["opp_def_rank"] is None
    for i in (0, 14, 18):
        g = h[i]
        rating = league.rating(g.opponent, g.season, g.game_date)
        assert rating is not None
        assert walked[i]["opp_def_rating"] == rating.defensive_rating
        assert walked[i]["opp_pace"] == rating.pace
        assert walked[i]["opp_team_games"] == rating.games
        assert walked[i]["opp_def_rank"] == league.rank(g.opponent, g.season, g.game_date)


def test_top_and_bottom_defence_splits_use_the_rank_on_the_game_day() -> None:
    h = history(LEBRON, "2023-24")
    league = real_league("2023-24")
    walked, state = walk(h, league=league)
    v = state.vector(None, league=league)
    for stat in ("points", "threes"):
        top, bottom = [], []
        for g in h:
            value = g.value(stat)
            rank = league.rank(g.opponent, g.season, g.game_date)
            if value is None or rank is None:
                continue
            if rank <= 10:
                top.append(value)
            elif rank >= 21:
                bottom.append(value)
        assert top
        assert bottom
        assert v[f"{stat}_vs_top10_n"] == len(top)
        assert v[f"{stat}_vs_top10_avg"] == pytest.approx(statistics.fmean(top))
        assert v[f"{stat}_vs_bottom10_n"] == len(bottom)
        assert v[f"{stat}_vs_bottom10_avg"] == pytest.approx(statistics.fmean(bottom))


# --- 5. leakage --------------------------------------------------------------------------------


def _random_players(seed: int, k: int, season: str, min_games: int = 30) -> list[int]:
    eligible = sorted(pid for pid, games in _histories(season).items() if len(games) >= min_games)
    return random.Random(seed).sample(eligible, k)


def _perturbed(game: PlayerGame, stat: str) -> PlayerGame:
    if stat == "threes":
        return dataclasses.replace(game, threes=2 if game.threes is None else game.threes + 3)
    if stat in ("fga", "turnovers"):  # the columns all present (2022-23 has none), one moved
        filled = dataclasses.replace(
            game, fga=game.fga or 0, fta=game.fta or 0, turnovers=game.turnovers or 0
        )
        return dataclasses.replace(filled, **{stat: getattr(filled, stat) + 3})
    if stat == "minutes":
        return dataclasses.replace(game, minutes=game.minutes + 7.0)
    return dataclasses.replace(game, **{stat: getattr(game, stat) + 5})


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_a_games_own_stats_never_reach_its_vector(seed: int) -> None:
    league = real_league("2022-23", "2023-24")
    rng = random.Random(seed)
    for pid in _random_players(seed, 2, "2023-24"):
        h = history(pid, "2022-23", "2023-24")
        base = vectors(h, league)
        for i in rng.sample(range(len(h) - 1), 3):
            for stat in (
                "points",
                "rebounds",
                "assists",
                "minutes",
                "threes",
                "steals",
                "blocks",
                "fga",
                "turnovers",
            ):
                changed = h[:i] + [_perturbed(h[i], stat)] + h[i + 1 :]
                got = vectors(changed, league)
                for j in range(i + 1):
                    assert_same(got[j], base[j], where=f"player {pid} game {j}/{i} {stat}")
                assert differs(got[i + 1], base[i + 1]), f"player {pid} game {i} {stat}"


def _shift_box(game: TeamGame) -> TeamGame:
    return dataclasses.replace(
        game,
        points_allowed=game.points_allowed + 9,
        possessions=game.possessions * 0.93,
        minutes=game.minutes + 25,
        plays=None if game.plays is None else game.plays * 1.1,
    )


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_team_games_on_or_after_the_game_day_never_reach_its_vector(seed: int) -> None:
    teams = _team_games("2023-24")
    base_league = league_of(teams)
    rng = random.Random(seed)
    for pid in _random_players(seed, 2, "2023-24", min_games=40):
        h = history(pid, "2023-24")
        base = vectors(h, base_league)
        i = rng.randrange(5, len(h) - 10)
        day = h[i].game_date
        # Every team box from the game day on, at once.
        league = league_of([_shift_box(g) if g.game_date >= day else g for g in teams])
        got = vectors(h, league)
        for j in range(i + 1):
            assert_same(got[j], base[j], where=f"player {pid} game {j}/{i}")
        assert any(differs(got[j], base[j]) for j in range(i + 1, len(h))), f"{pid} {i}"
        # And one at a time: the opponent's box of that very game, then random later ones.
        on_or_after = [k for k, g in enumerate(teams) if g.game_date >= day]
        same_game = [
            k
            for k in on_or_after
            if teams[k].game_date == day and teams[k].team in (h[i].team, h[i].opponent)
        ]
        assert same_game
        for k in same_game + rng.sample(on_or_after, 6):
            league = league_of([_shift_box(g) if n == k else g for n, g in enumerate(teams)])
            assert_same(vectors(h[: i + 1], league)[i], base[i], where=f"{pid} {i} box {k}")


@pytest.mark.parametrize("seed", [21, 22])
def test_team_games_that_appear_on_or_after_the_game_day_never_reach_its_vector(seed: int) -> None:
    """games_missed counts games, not box contents: team boxes that exist only from the game
    day on (here: removed, as if they had not arrived yet) must not change the vector."""
    teams = _team_games("2023-24")
    full = league_of(teams)
    rng = random.Random(seed)
    for pid in _random_players(seed, 2, "2023-24", min_games=40):
        h = history(pid, "2023-24")
        base = vectors(h, full)
        # a game after one he missed, so that the control below has something to remove
        gaps = [i for i in range(5, len(h)) if (base[i]["games_missed"] or 0) >= 1]
        i = rng.choice(gaps) if gaps else rng.randrange(5, len(h))
        day = h[i].game_date
        cut = league_of([g for g in teams if g.game_date < day])
        assert_same(vectors(h[: i + 1], cut)[i], base[i], where=f"player {pid} game {i}")
        if not gaps:
            continue
        # the control: one of his team's games that he missed, removed, is seen
        missed = next(
            k
            for k, g in enumerate(teams)
            if g.team == h[i].team and h[i - 1].game_date < g.game_date < day
        )
        gone = league_of([g for k, g in enumerate(teams) if k != missed])
        assert vectors(h[: i + 1], gone)[i]["games_missed"] == base[i]["games_missed"] - 1


def test_a_team_game_before_the_game_day_does_reach_its_vector() -> None:
    """The control for the leakage test: the same perturbation one day earlier is seen."""
    h = history(LEBRON, "2023-24")
    teams = _team_games("2023-24")
    i = 10  # 2023-11-15 vs SAC
    assert h[i].opponent == "SAC"
    day = h[i].game_date
    latest = max(k for k, g in enumerate(teams) if g.team == "SAC" and g.game_date < day)
    league = league_of([_shift_box(g) if k == latest else g for k, g in enumerate(teams)])
    base = vectors(h[: i + 1], league_of(teams))[i]
    got = vectors(h[: i + 1], league)[i]
    assert got["opp_def_rating"] != base["opp_def_rating"]
    assert got["opp_pace"] != base["opp_pace"]


# --- 6. batch == incremental == from scratch ---------------------------------------------------

TEAMS = sorted(TEAM_UTC_OFFSET)


def _season_of(day: dt.date) -> str:
    year = day.year if day.month >= 8 else day.year - 1
    return f"{year}-{(year + 1) % 100:02d}"


@st.composite
def histories(draw: st.DrawFn) -> list[PlayerGame]:
    day = draw(st.dates(dt.date(2022, 10, 18), dt.date(2023, 6, 1)))
    team = draw(st.sampled_from(TEAMS))
    out = []
    for _ in range(draw(st.integers(0, 22))):
        minutes = float(draw(st.integers(0, 48)))
        out.append(
            PlayerGame(
                game_date=day,
                season=_season_of(day),
                season_type=draw(st.sampled_from(["Regular Season", "Playoffs"])),
                team=team,
                opponent=draw(st.sampled_from([t for t in TEAMS if t != team])),
                is_home=draw(st.booleans()),
                minutes=minutes,
                points=draw(st.integers(0, 60)),
                rebounds=draw(st.integers(0, 25)),
                assists=draw(st.integers(0, 20)),
                threes=draw(st.none() | st.integers(0, 12)),
                steals=draw(st.none() | st.integers(0, 6)),
                blocks=draw(st.none() | st.integers(0, 6)),
            )
        )
        day += dt.timedelta(days=draw(st.integers(1, 4) | st.integers(60, 200)))
        if draw(st.integers(0, 9)) == 0:
            team = draw(st.sampled_from(TEAMS))  # traded
    return out


@functools.cache
def _fixed_league() -> League:
    return real_league("2022-23", "2023-24")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=histories())
def test_batch_equals_incremental_equals_from_scratch(history: list[PlayerGame]) -> None:
    league = _fixed_league()
    walked, final = walk(history, league=league)
    assert [g for g, _ in walked] == history
    state = PlayerState()
    for i, game in enumerate(history):
        # The streaming path: the game's vector, fold the game in, then the 'next' vector.
        incremental = state.vector(context_of(game), league=league)
        state.add(game, opponent_rank=league.rank(game.opponent, game.season, game.game_date))
        next_incremental = state.vector(None, league=league)
        prefix, prefix_state = walk(history[: i + 1], league=league)
        assert_same(walked[i][1], incremental, where=f"incremental {i}")
        assert_same(walked[i][1], prefix[-1][1], where=f"from scratch {i}")
        assert_same(next_incremental, prefix_state.vector(None, league=league), where=f"next {i}")
    assert_same(final.vector(None, league=league), state.vector(None, league=league))


# --- 7. order ----------------------------------------------------------------------------------


def test_add_refuses_a_game_not_after_the_last_one() -> None:
    h = lebron()
    state = PlayerState()
    for g in h[:6]:
        state.add(g)
    before = state.vector(None, league=None)
    for day in (h[5].game_date, h[4].game_date, h[5].game_date - dt.timedelta(days=1)):
        with pytest.raises(ValueError, match="date order"):
            state.add(dataclasses.replace(h[6], game_date=day))
    assert state.vector(None, league=None) == before  # a refused game leaves no trace
    state.add(h[6])
    assert state.career_games == 7


def test_walk_refuses_an_unsorted_history() -> None:
    h = lebron()
    with pytest.raises(ValueError, match="date order"):
        walk([h[1], h[0]], league=None)


# --- 8. feature names --------------------------------------------------------------------------


def test_feature_names_are_sorted_unique_and_stable() -> None:
    names = feature_names()
    assert names == sorted(names)
    assert len(set(names)) == len(names)
    assert feature_names() == names
    assert set(CONTEXT_KEYS) <= set(names)
    for stat in STATS:
        assert f"{stat}_sma_10" in names
        assert f"{stat}_n_10" in names
    assert "minutes_per_min_10" not in names
    assert "minutes_trend" in names


def test_every_vector_has_exactly_the_feature_names() -> None:
    names = feature_names()
    league = real_league("2022-23", "2023-24")
    walked, state = walk(lebron(), league=league)
    for _, v in walked:
        assert sorted(v) == names
    assert sorted(state.vector(None, league=league)) == names
    assert sorted(PlayerState().vector(None, league=None)) == names
    assert sorted(PlayerState().vector(context_of(lebron()[0]), league=league)) == names


# --- 9. the catalogue against what the code computes -------------------------------------------


def _declared() -> set[str]:
    return {f.name for f in CATALOGUE}


def _same_names(computed: Features, where: str) -> None:
    declared = _declared()
    assert not computed.keys() - declared, (
        f"{where}: computed, not declared: {computed.keys() - declared}"
    )
    assert not declared - computed.keys(), (
        f"{where}: declared, not computed: {declared - computed.keys()}"
    )


def test_the_catalogue_declares_exactly_what_player_state_computes() -> None:
    league = real_league("2022-23", "2023-24")
    games = lebron()
    _same_names(PlayerState().vector(None, league=None), "next, no history")
    _same_names(PlayerState().vector(context_of(games[0]), league=league), "game, no history")
    walked, state = walk(games, league=league)
    for game, v in walked:
        _same_names(v, f"game {game.game_date}")
    _same_names(state.vector(None, league=league), "next")


def test_every_declared_feature_is_computed_somewhere() -> None:
    """Not a key filled with None by default: each feature has a value in some game vector of
    the hand-checked history (with its context and the real league)."""
    h = history(LEBRON, "2021-22")[-3:] + lebron()  # 2021-22 has threes: a prior for them
    league = real_league("2021-22", "2022-23", "2023-24")
    league.report(REPORT)  # who is out comes from the availability feed, not the box scores
    walked, _ = walk(h, league=league)
    valued = {n for _, v in walked for n, x in v.items() if x is not None}
    assert _declared() - valued == set()


# One of LeBron's 2023-24 games with a made-up report of two teammates out (the files
# stand-in's real reports are tested in the ingestor): one with recent means, one without.
REPORT_DAY = dt.date(2023, 11, 8)
REPORT = TeamReport(
    REPORT_DAY,
    "2023-24",
    "LAL",
    (Absent(203076, 35.5, 24.25, 12.0, 3.5), Absent(1, None, None, None, None)),
)


def test_teammates_out_sums_the_recent_means_of_the_players_listed_out() -> None:
    games = lebron()
    day = next(i for i, g in enumerate(games) if g.game_date == REPORT_DAY)
    league = real_league("2022-23", "2023-24")
    league.report(REPORT)
    walked, _ = walk(games, league=league)
    got = {n: walked[day][1][n] for n in ("out_n", "out_minutes", "out_points")}
    assert got == {"out_n": 2.0, "out_minutes": 35.5, "out_points": 24.25}
    assert walked[day][1]["out_rebounds"] == 12.0
    assert walked[day][1]["out_assists"] == 3.5
    # A report is for its game only: the games before and after have none.
    for i in (day - 1, day + 1):
        assert all(walked[i][1][n] is None for n in ("out_n", "out_minutes")), i
    # An empty report says nobody is out: zeros, not None.
    league.report(TeamReport(REPORT_DAY, "2023-24", "LAL", ()))
    walked, _ = walk(games, league=league)
    assert [walked[day][1][n] for n in ("out_n", "out_minutes", "out_assists")] == [0.0] * 3


def test_a_later_report_changes_no_earlier_vector() -> None:
    games = lebron()
    league = real_league("2022-23", "2023-24")
    before, _ = walk(games, league=league)
    later = TeamReport(REPORT_DAY, "2023-24", "LAL", (Absent(203076, 35.5, 24.25, 12.0, 3.5),))
    league.report(later)
    after, _ = walk(games, league=league)
    for (g, a), (_, b) in zip(before, after, strict=True):
        if g.game_date < REPORT_DAY:
            assert_same(a, b, where=str(g.game_date))


def test_declared_types_hold_in_every_vector() -> None:
    walked, state = walk(lebron(), league=real_league("2022-23", "2023-24"))
    vs = [v for _, v in walked] + [state.vector(None, league=None)]
    for f in CATALOGUE:
        values = [x for v in vs if (x := v[f.name]) is not None]
        if f.dtype == "count":
            assert all(x >= 0 and x == int(x) for x in values), f.name
        elif f.dtype == "flag":
            assert set(values) <= {0.0, 1.0}, f.name


def test_next_vectors_have_none_exactly_where_the_catalogue_says() -> None:
    league = real_league("2021-22", "2022-23", "2023-24")
    _, state = walk(history(LEBRON, "2021-22")[-3:] + lebron(), league=league)
    v = state.vector(None, league=league)
    assert {n for n, x in v.items() if x is None} == {f.name for f in CATALOGUE if not f.on_next}
    assert {f.name for f in CATALOGUE if not f.on_next} == set(OPPONENT_KEYS)


# --- 7. the stats of feature set fs-6 -----------------------------------------------------------


def test_steals_blocks_and_turnovers_have_their_compact_features_by_hand() -> None:
    h = lebron()
    walked, _ = walk(h, league=None)
    i = 12
    v, before = walked[i][1], h[:i]
    for stat in ("steals", "blocks", "turnovers"):
        values = [getattr(g, stat) for g in before]
        assert v[f"{stat}_sma_5"] == pytest.approx(sum(values[-5:]) / 5), stat
        assert v[f"{stat}_career_n"] == len(values)
        minutes = sum(g.minutes for g in before[-10:])
        assert v[f"{stat}_per_min_10"] == pytest.approx(sum(values[-10:]) / minutes), stat
        # compact: no extremes, splits or trends
        assert f"{stat}_max_10" not in v
        assert f"{stat}_vs_opp_avg" not in v


def test_a_sum_of_stats_adds_its_parts_and_is_missing_with_one_of_them() -> None:
    g = lebron()[0]
    assert g.steals is not None
    assert g.blocks is not None
    assert g.value("stocks") == g.steals + g.blocks
    assert g.value("pr") == g.points + g.rebounds
    assert g.value("ra") == g.rebounds + g.assists
    assert g.value("pra") == g.points + g.rebounds + g.assists
    assert dataclasses.replace(g, blocks=None).value("stocks") is None
