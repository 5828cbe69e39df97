"""Team strength as of a day (statmuse_shared.features.teams), checked by hand on real Denver
Nuggets 2023-24 box scores from data/nba/team_game_logs (gzip CSV read here: no network)."""

import csv
import dataclasses
import datetime as dt
import functools
import gzip
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statmuse_shared.features import League, TeamGame, possessions
from statmuse_shared.features.teams import (
    ALTITUDE_TEAM,
    MIN_TEAM_GAMES,
    TEAM_UTC_OFFSET,
)

DATA = Path(__file__).resolve().parents[3] / "data" / "nba"
SEASON = "2023-24"
D = dt.date.fromisoformat


@functools.cache
def _rows(season: str) -> tuple[dict[str, str], ...]:
    with gzip.open(DATA / "team_game_logs" / f"{season}.csv.gz", "rt", newline="") as f:
        return tuple(csv.DictReader(f))


@functools.cache
def team_games(season: str) -> tuple[TeamGame, ...]:
    """One TeamGame per team row; points allowed = the opponent row's PTS."""
    by_game: dict[str, list[dict[str, str]]] = {}
    for row in _rows(season):
        by_game.setdefault(row["GAME_ID"], []).append(row)
    out = []
    for pair in by_game.values():
        for row, other in (pair, pair[::-1]):
            poss = possessions(
                fga=int(row["FGA"]), oreb=int(row["OREB"]), tov=int(row["TOV"]), fta=int(row["FTA"])
            )
            out.append(
                TeamGame(
                    D(row["GAME_DATE"]),
                    row["SEASON"],
                    row["TEAM_ABBREVIATION"],
                    int(other["PTS"]),
                    poss,
                    float(row["MIN"]),
                )
            )
    return tuple(sorted(out, key=lambda g: (g.game_date, g.team)))


def league_of(games: list[TeamGame] | tuple[TeamGame, ...]) -> League:
    league = League()
    for g in games:
        league.add(g)
    return league


def den() -> list[TeamGame]:
    return [g for g in team_games(SEASON) if g.team == "DEN"]


# --- possessions and the real data ------------------------------------------------------------


def test_possessions_of_a_real_box() -> None:
    # DEN vs LAL, 2023-10-24: FGA 91, OREB 9, TOV 11, FTA 12
    assert possessions(fga=91, oreb=9, tov=11, fta=12) == pytest.approx(91 - 9 + 11 + 0.44 * 12)
    assert den()[0].possessions == pytest.approx(98.28)


def test_points_allowed_agree_with_plus_minus_on_real_rows() -> None:
    """PTS - PLUS_MINUS is the opponent's PTS, except a few rows with a broken PLUS_MINUS (so
    the fixture takes the opponent row)."""
    rows = {(r["GAME_ID"], r["TEAM_ABBREVIATION"]): r for r in _rows(SEASON)}
    allowed = {(g.game_date, g.team): g.points_allowed for g in team_games(SEASON)}
    broken = {
        game_id
        for (game_id, team), r in rows.items()
        if int(r["PTS"]) - float(r["PLUS_MINUS"]) != allowed[(D(r["GAME_DATE"]), team)]
    }
    assert len(rows) == 2638
    assert "0022300036" in broken  # LAL 107 @ POR 95 with PLUS_MINUS +13
    assert len(broken) <= 10
    assert [g.points_allowed for g in den()[:5]] == [107, 104, 95, 102, 110]


def test_every_team_has_a_time_zone() -> None:
    assert {g.team for g in team_games(SEASON)} == set(TEAM_UTC_OFFSET)
    assert set(TEAM_UTC_OFFSET.values()) == {-8, -7, -6, -5}
    assert TEAM_UTC_OFFSET["DEN"] == -7
    assert TEAM_UTC_OFFSET["BOS"] == -5
    assert TEAM_UTC_OFFSET["LAL"] == -8
    assert ALTITUDE_TEAM == "DEN"


# --- ratings ----------------------------------------------------------------------------------


def test_rating_hand_checked_on_denvers_first_games() -> None:
    league = league_of(team_games(SEASON))
    # Five games: 10-24, 10-27, 10-29, 10-30, 11-01.
    allowed = 107 + 104 + 95 + 102 + 110
    poss = 98.28 + 106.92 + 96.72 + 96.48 + 103.4  # 501.8
    minutes = 240 + 240 + 241 + 240 + 240
    r = league.rating("DEN", SEASON, D("2023-11-02"))
    assert r is not None
    assert r.games == 5
    assert r.defensive_rating == pytest.approx(100 * allowed / poss)
    assert r.defensive_rating == pytest.approx(103.228378, abs=1e-6)
    assert r.pace == pytest.approx(48 * poss / (minutes / 5))
    assert r.pace == pytest.approx(100.276436, abs=1e-6)
    # 11-03 vs DAL: allowed 125 - 11 = 114, poss 93 - 19 + 17 + 0.44 * 19, 241 minutes
    r6 = league.rating("DEN", SEASON, D("2023-11-04"))
    assert r6 is not None
    assert r6.games == 6
    poss6 = poss + 93 - 19 + 17 + 0.44 * 19
    assert r6.defensive_rating == pytest.approx(100 * (allowed + 114) / poss6)
    assert r6.pace == pytest.approx(48 * poss6 / ((minutes + 241) / 5))


def test_overtime_minutes_lower_the_pace() -> None:
    # CHI vs TOR 2023-10-27 went to overtime (264 team minutes).
    chi = [g for g in team_games(SEASON) if g.team == "CHI"]
    ot = next(g for g in chi if g.game_date == D("2023-10-27"))
    assert ot.minutes == 264
    league = league_of(team_games(SEASON))
    n = next(i for i, g in enumerate(chi) if g.game_date > D("2023-11-10"))
    r = league.rating("CHI", SEASON, chi[n].game_date)
    assert r is not None
    assert r.games == n
    first = chi[:n]
    assert r.pace == pytest.approx(
        48 * sum(g.possessions for g in first) / (sum(g.minutes for g in first) / 5)
    )


def test_rating_sees_only_games_strictly_before_the_day() -> None:
    league = league_of(team_games(SEASON))
    on_day = league.rating("DEN", SEASON, D("2023-11-03"))  # DEN played on 11-03
    assert on_day == league.rating("DEN", SEASON, D("2023-11-02"))
    assert on_day is not None
    assert on_day.games == 5
    after = league.rating("DEN", SEASON, D("2023-11-04"))
    assert after is not None
    assert after.games == 6
    assert after != on_day


def test_adding_a_game_on_day_d_changes_ratings_from_d_plus_one() -> None:
    games = den()[:6]
    league = league_of(games)
    day = D("2023-11-05")
    before = {d: league.rating("DEN", SEASON, day + dt.timedelta(days=d)) for d in (0, 1, 30)}
    league.add(TeamGame(day, SEASON, "DEN", 150, 100.0, 240.0))
    assert league.rating("DEN", SEASON, day) == before[0]
    for d in (1, 30):
        r, old = league.rating("DEN", SEASON, day + dt.timedelta(days=d)), before[d]
        assert r is not None
        assert old is not None
        assert r.games == 7
        assert r.defensive_rating > old.defensive_rating


def test_too_few_games_or_unknown_team_is_none() -> None:
    league = league_of(team_games(SEASON))
    assert MIN_TEAM_GAMES == 5
    assert league.rating("DEN", SEASON, D("2023-10-24")) is None  # no game yet
    assert league.rating("DEN", SEASON, D("2023-11-01")) is None  # 4 games
    assert league.rating("DEN", SEASON, D("2023-11-02")) is not None  # 5 games
    assert league.rating("XXX", SEASON, D("2024-01-01")) is None
    assert league.rating("DEN", "2019-20", D("2020-01-01")) is None
    assert League().rating("DEN", SEASON, D("2024-01-01")) is None


def test_seasons_are_separate() -> None:
    league = league_of(team_games(SEASON))
    for g in den()[:6]:
        league.add(dataclasses.replace(g, season="2024-25", points_allowed=200))
    r = league.rating("DEN", SEASON, D("2023-11-02"))
    assert r is not None
    assert r.defensive_rating == pytest.approx(103.228378, abs=1e-6)
    other = league.rating("DEN", "2024-25", D("2023-11-04"))
    assert other is not None
    assert other.games == 6


def test_a_corrected_box_for_the_same_date_replaces_the_old_one() -> None:
    games = den()[:6]
    league = league_of(games)
    day = D("2023-11-10")
    first = league.rating("DEN", SEASON, day)
    assert first is not None
    assert first.games == 6
    fixed = dataclasses.replace(games[2], points_allowed=games[2].points_allowed + 30)
    league.add(fixed)
    r = league.rating("DEN", SEASON, day)
    assert r is not None
    assert r.games == 6
    poss = sum(g.possessions for g in games)
    assert r.defensive_rating == pytest.approx(
        100 * (sum(g.points_allowed for g in games) + 30) / poss
    )
    assert r.defensive_rating == pytest.approx(first.defensive_rating + 100 * 30 / poss)
    # Correcting it back restores the original rating.
    league.add(games[2])
    assert league.rating("DEN", SEASON, day) == first


def test_insertion_order_does_not_matter_on_real_games() -> None:
    games = list(team_games(SEASON))
    in_order = league_of(games)
    shuffled = games[:]
    random.Random(7).shuffle(shuffled)
    out_of_order = league_of(shuffled)
    for day in (D("2023-11-02"), D("2023-12-25"), D("2024-04-15"), D("2024-06-30")):
        for team in TEAM_UTC_OFFSET:
            a = in_order.rating(team, SEASON, day)
            b = out_of_order.rating(team, SEASON, day)
            assert (a is None) == (b is None)
            if a is not None and b is not None:
                assert a.games == b.games
                assert a.defensive_rating == pytest.approx(b.defensive_rating, rel=1e-12)
                assert a.pace == pytest.approx(b.pace, rel=1e-12)
        assert in_order.defensive_ranks(SEASON, day) == out_of_order.defensive_ranks(SEASON, day)


@settings(max_examples=40, deadline=None)
@given(
    games=st.lists(
        st.tuples(
            st.integers(0, 40),
            st.sampled_from(["DEN", "BOS", "LAL"]),
            st.integers(80, 140),
            st.floats(80, 120),
            st.sampled_from([240.0, 265.0]),
        ),
        max_size=40,
    ),
    seed=st.integers(0, 10**6),
)
def test_ratings_do_not_depend_on_the_order_games_arrive(
    games: list[tuple[int, str, int, float, float]], seed: int
) -> None:
    start = D("2023-10-24")
    boxes = [TeamGame(start + dt.timedelta(days=d), SEASON, t, a, p, m) for d, t, a, p, m in games]
    # The last box of a (team, date) wins: keep only those in the reference.
    final: dict[tuple[str, dt.date], TeamGame] = {}
    for box in boxes:
        final[(box.team, box.game_date)] = box
    shuffled = list(final.values())
    random.Random(seed).shuffle(shuffled)
    a, b = league_of(boxes), league_of(shuffled)
    for day in range(0, 43, 3):
        when = start + dt.timedelta(days=day)
        for team in ("DEN", "BOS", "LAL"):
            ra, rb = a.rating(team, SEASON, when), b.rating(team, SEASON, when)
            mine = [g for (t, d), g in final.items() if t == team and d < when]
            if len(mine) < MIN_TEAM_GAMES:
                assert ra is None
                assert rb is None
                continue
            assert ra is not None
            assert rb is not None
            assert ra.games == rb.games == len(mine)
            poss = sum(g.possessions for g in mine)
            assert ra.defensive_rating == pytest.approx(
                100 * sum(g.points_allowed for g in mine) / poss, rel=1e-9
            )
            assert rb.defensive_rating == pytest.approx(ra.defensive_rating, rel=1e-9)
            assert ra.pace == pytest.approx(48 * poss / (sum(g.minutes for g in mine) / 5))


# --- ranks ------------------------------------------------------------------------------------


def test_rank_one_is_the_lowest_defensive_rating() -> None:
    league = league_of(team_games(SEASON))
    for day in (D("2023-11-02"), D("2023-12-25"), D("2024-03-01")):
        ranks = league.defensive_ranks(SEASON, day)
        ratings = {t: league.rating(t, SEASON, day) for t in TEAM_UTC_OFFSET}
        rated = {t: r.defensive_rating for t, r in ratings.items() if r is not None}
        assert set(ranks) == set(rated)
        assert sorted(ranks.values()) == list(range(1, len(rated) + 1))
        by_rating = sorted(rated, key=rated.__getitem__)
        assert [t for t, _ in sorted(ranks.items(), key=lambda kv: kv[1])] == by_rating
        best = min(rated, key=rated.__getitem__)
        assert ranks[best] == 1
        assert league.rank(best, SEASON, day) == 1
        worst = max(rated, key=rated.__getitem__)
        assert ranks[worst] == len(rated)
    assert len(league.defensive_ranks(SEASON, D("2023-12-25"))) == 30


def test_teams_with_too_few_games_have_no_rank() -> None:
    league = league_of(team_games(SEASON))
    day = D("2023-11-01")  # DEN has 4 games before it
    assert league.rank("DEN", SEASON, day) is None
    assert "DEN" not in league.defensive_ranks(SEASON, day)
    assert league.rank("DEN", SEASON, D("2023-11-02")) is not None
    assert league.defensive_ranks(SEASON, D("2023-10-24")) == {}
    assert league.defensive_ranks("1999-00", D("2000-01-01")) == {}


def test_ranks_on_a_small_league_by_hand() -> None:
    league = League()
    start = D("2024-01-01")
    for team, allowed in (("BOS", 100), ("DEN", 120), ("LAL", 110)):
        for d in range(MIN_TEAM_GAMES):
            league.add(TeamGame(start + dt.timedelta(days=d), SEASON, team, allowed, 100.0, 240.0))
    day = start + dt.timedelta(days=MIN_TEAM_GAMES)
    assert league.defensive_ranks(SEASON, day) == {"BOS": 1, "LAL": 2, "DEN": 3}
    assert league.defensive_ranks(SEASON, start + dt.timedelta(days=MIN_TEAM_GAMES - 1)) == {}


def test_rank_cache_is_invalidated_when_a_game_is_added() -> None:
    league = League()
    start = D("2024-01-01")
    for team, allowed in (("BOS", 100), ("DEN", 120)):
        for d in range(MIN_TEAM_GAMES):
            league.add(TeamGame(start + dt.timedelta(days=d), SEASON, team, allowed, 100.0, 240.0))
    day = D("2024-02-01")
    assert league.defensive_ranks(SEASON, day) == {"BOS": 1, "DEN": 2}
    assert league.rank("BOS", SEASON, day) == 1  # cached now
    # BOS concedes 400 in a new game: it falls behind DEN.
    league.add(TeamGame(D("2024-01-20"), SEASON, "BOS", 400, 100.0, 240.0))
    assert league.defensive_ranks(SEASON, day) == {"DEN": 1, "BOS": 2}
    assert league.rank("BOS", SEASON, day) == 2
    # A corrected box (same date) invalidates it too.
    league.add(TeamGame(D("2024-01-20"), SEASON, "BOS", 100, 100.0, 240.0))
    assert league.rank("BOS", SEASON, day) == 1
    # A third team reaching five games enters the ranking.
    for d in range(MIN_TEAM_GAMES):
        league.add(TeamGame(start + dt.timedelta(days=d), SEASON, "LAL", 50, 100.0, 240.0))
    assert league.defensive_ranks(SEASON, day) == {"LAL": 1, "BOS": 2, "DEN": 3}


def test_rank_cache_survives_games_of_another_season() -> None:
    league = league_of(den()[:6] + [g for g in team_games(SEASON) if g.team == "BOS"][:6])
    day = D("2023-12-01")
    ranks = dict(league.defensive_ranks(SEASON, day))
    league.add(TeamGame(D("2024-11-01"), "2024-25", "DEN", 300, 90.0, 240.0))
    assert league.defensive_ranks(SEASON, day) == ranks


def test_the_fingerprint_names_the_set_of_box_scores_whatever_their_order() -> None:
    games = list(team_games(SEASON))
    shuffled = games[:]
    random.Random(11).shuffle(shuffled)
    league = league_of(games)
    assert league.fingerprint == league_of(shuffled).fingerprint
    assert league.fingerprint != League().fingerprint
    assert league.fingerprint != league_of(games[:-1]).fingerprint
    before = league.fingerprint
    league.add(games[100])  # the same box again: nothing new
    assert league.fingerprint == before
    fixed = dataclasses.replace(games[100], points_allowed=games[100].points_allowed + 1)
    league.add(fixed)
    assert league.fingerprint != before
    league.add(games[100])  # corrected back
    assert league.fingerprint == before
