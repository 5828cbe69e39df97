"""The sequential A/B rule replayed day by day on the real 2023-24 season (data/nba): a truly
worse challenger is caught, and under a real null (the two arms swapped at random per prop)
peeking every day calls a difference no more often than alpha, where a fixed-sample test read
every day does.

The arms are cheap and built from the real box scores, before each game: P(over) from a
negative binomial (dispersion 8) around the player's mean of his last 10 games (production) or
of his last 3 or 5 (challengers, truly worse: checked on the whole season first). Props are the
points, rebounds and assists of rotation players (20+ minutes a game over the last 10) at the
books' real line where the bundled files have one (the line most books posted that day; the
books' de-vigged P(over) is their mean at it), else at the half point under the last-10 mean.
Pushes are left out, as the caller of `compare` leaves them out.
"""

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import nbinom, norm

from statmuse_trainer.lines import match_players, read_lines
from statmuse_trainer.monitoring.abtest import (
    ALPHA,
    CHALLENGER_BETTER,
    CHALLENGER_WORSE,
    MIN_PAIRS,
    compare,
    confidence_sequence,
)

DATA = Path(__file__).resolve().parents[4] / "data" / "nba"
SEASON = "2023-24"
STATS = {"points": "PTS", "rebounds": "REB", "assists": "AST"}
DISPERSION = 8.0
ROTATION_MINUTES = 20
NULL_REPLAYS = 400
# Sampling slack for a share of NULL_REPLAYS replays: 3 standard errors of a binomial share.
NULL_BOUND = ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / NULL_REPLAYS)


@dataclass(frozen=True)
class Props:
    """Settled props in time order, one a (player, game, stat), both arms priced."""

    days: list[dt.date]
    production: np.ndarray
    challenger: np.ndarray
    last_5: np.ndarray  # a challenger nearer production: the last-5 mean
    went_over: np.ndarray
    books: list[float | None]


def book_lines(names: dict[str, int]) -> pd.DataFrame:
    """One line a (player, day, stat): the line most books posted (the lower on a tie), with
    the books' mean de-vigged P(over) at it."""
    matched, _ = match_players(
        read_lines([DATA / "prop_lines" / f"{SEASON}_mar-may_all_markets.csv.gz"]), names
    )
    quotes = pd.DataFrame(
        [(pid, q.game_date.isoformat(), q.market, q.line, q.fair_over) for pid, q in matched],
        columns=["PLAYER_ID", "GAME_DATE", "stat", "line", "books"],
    )
    quotes = quotes[quotes["stat"].isin(STATS)]
    at_line = quotes.groupby(["PLAYER_ID", "GAME_DATE", "stat", "line"], as_index=False).agg(
        books=("books", "mean"), quoted=("books", "size")
    )
    at_line = at_line.sort_values(["quoted", "line"], ascending=[False, True])
    return at_line.drop_duplicates(["PLAYER_ID", "GAME_DATE", "stat"]).drop(columns="quoted")


def p_over(mean: np.ndarray, line: np.ndarray) -> np.ndarray:
    r = DISPERSION
    return np.asarray(nbinom.sf(np.floor(line), r, r / (r + mean)), dtype=np.float64)


@pytest.fixture(scope="module")
def props() -> Props:
    logs = pd.read_csv(
        DATA / "player_game_logs" / f"{SEASON}.csv.gz",
        usecols=["GAME_DATE", "PLAYER_ID", "PLAYER_NAME", "MIN", *STATS.values()],
    ).sort_values(["PLAYER_ID", "GAME_DATE"], kind="stable")
    names = dict(zip(logs["PLAYER_NAME"], logs["PLAYER_ID"].astype(int), strict=True))
    lines = book_lines(names)
    by_player = logs.groupby("PLAYER_ID")
    minutes_10 = by_player["MIN"].transform(lambda s: s.shift(1).rolling(10).mean())
    frames = []
    for stat, column in STATS.items():
        prior = by_player[column].shift(1)
        one = logs[["GAME_DATE", "PLAYER_ID", "MIN"]].assign(
            stat=stat,
            actual=logs[column].astype(float),
            mean_10=prior.groupby(logs["PLAYER_ID"]).transform(lambda s: s.rolling(10).mean()),
            mean_3=prior.groupby(logs["PLAYER_ID"]).transform(lambda s: s.rolling(3).mean()),
            mean_5=prior.groupby(logs["PLAYER_ID"]).transform(lambda s: s.rolling(5).mean()),
            minutes_10=minutes_10,
        )
        frames.append(one)
    games = pd.concat(frames).dropna(subset=["mean_10", "mean_3", "actual"])
    games = games[(games["minutes_10"] >= ROTATION_MINUTES) & (games["MIN"] > 0)]
    games = games.merge(lines, on=["PLAYER_ID", "GAME_DATE", "stat"], how="left")
    games["line"] = games["line"].fillna(np.floor(games["mean_10"]) + 0.5)
    games = games[games["actual"] != games["line"]]  # pushes
    games = games.sort_values(["GAME_DATE", "PLAYER_ID", "stat"], kind="stable")
    line = games["line"].to_numpy(np.float64)
    return Props(
        days=[pd.Timestamp(d).date() for d in games["GAME_DATE"]],
        production=p_over(games["mean_10"].to_numpy(np.float64), line),
        challenger=p_over(games["mean_3"].to_numpy(np.float64), line),
        last_5=p_over(games["mean_5"].to_numpy(np.float64), line),
        went_over=(games["actual"].to_numpy() > line).astype(np.float64),
        books=[None if math.isnan(b) else float(b) for b in games["books"]],
    )


def brier_differences(p: Props, challenger: np.ndarray) -> np.ndarray:
    return (challenger - p.went_over) ** 2 - (p.production - p.went_over) ** 2


def test_the_replay_is_real_and_the_challengers_truly_worse(props: Props):
    n = len(props.days)
    assert n > 40_000
    assert len(set(props.days)) > 150  # a look a game day, November to the finals
    assert sum(b is not None for b in props.books) > 5_000  # real lines of March to May
    # Over the whole season (one fixed-sample look, no peeking) both are clearly worse.
    for challenger, gap in ((props.challenger, 0.015), (props.last_5, 0.005)):
        d = brier_differences(props, challenger)
        assert d.mean() - 4 * d.std() / math.sqrt(n) > gap


@pytest.mark.parametrize("arm", ["challenger", "last_5"])
def test_a_truly_worse_challenger_is_caught_by_daily_looks(props: Props, arm: str):
    challenger = getattr(props, arm)
    worse = compare(props.days, props.production, challenger, props.went_over, props.books)
    assert worse.verdict == CHALLENGER_WORSE
    assert worse.decided_on is not None
    assert worse.brier_difference.low > 0
    assert worse.challenger.brier > worse.production.brier
    # Caught within the first weeks of looks, far before the season's end.
    assert worse.brier_difference.n < len(props.days) // 10
    assert [look.n for look in worse.looks].index(worse.brier_difference.n) < 20

    better = compare(props.days, challenger, props.production, props.went_over, props.books)
    assert better.verdict == CHALLENGER_BETTER
    assert better.decided_on == worse.decided_on  # the differences only change sign


def test_on_the_props_with_real_lines_the_books_beat_both_arms(props: Props):
    quoted = [i for i, b in enumerate(props.books) if b is not None]
    result = compare(
        [props.days[i] for i in quoted],
        props.production[quoted],
        props.challenger[quoted],
        props.went_over[quoted],
        [props.books[i] for i in quoted],
    )
    assert result.verdict == CHALLENGER_WORSE
    for arm in (result.production, result.challenger):
        assert arm.books_n == arm.n == result.brier_difference.n
        assert arm.brier_vs_books is not None
        assert arm.brier_vs_books > 0


def look_ends(days: list[dt.date]) -> np.ndarray:
    """The index of each day's last prop."""
    ordinals = np.array([d.toordinal() for d in days])
    return np.flatnonzero(np.append(np.diff(ordinals) != 0, True))


def naive_daily_t_test(d: np.ndarray, ends: np.ndarray, *, alpha: float) -> np.ndarray:
    """Rows of `d` (one replay a row) on which a fixed-sample two-sided z-test of mean 0,
    read at every look of MIN_PAIRS pairs or more, ever rejects."""
    looks = ends[ends + 1 >= MIN_PAIRS]
    t = (looks + 1).astype(np.float64)
    critical = float(norm.ppf(1 - alpha / 2))
    rejected = []
    for rows in np.array_split(d, max(len(d) // 50, 1)):  # chunks: a few MB at a time
        total = np.cumsum(rows, axis=1)[:, looks]
        squares = np.cumsum(rows * rows, axis=1)[:, looks]
        variance = (squares - total * total / t) / (t - 1)
        z = total / t / np.sqrt(variance / t)
        rejected.append((np.abs(z) > critical).any(axis=1))
    return np.concatenate(rejected)


def test_peeking_every_day_keeps_alpha_under_a_real_null(props: Props):
    """Each replay swaps the two arms on a random half of the props: every pair's difference
    keeps its size and takes a random sign, a null with mean exactly 0 on real outcomes."""
    rng = np.random.default_rng(2024)
    n = len(props.days)
    swaps = rng.integers(0, 2, size=(NULL_REPLAYS, n)).astype(bool)
    called = 0
    for swap in swaps:
        a = np.where(swap, props.challenger, props.production)
        b = np.where(swap, props.production, props.challenger)
        result = compare(props.days, a, b, props.went_over, props.books)
        called += result.verdict in (CHALLENGER_BETTER, CHALLENGER_WORSE)
    rate = called / NULL_REPLAYS

    ends = look_ends(props.days)
    d = brier_differences(props, props.challenger) * np.where(swaps, -1.0, 1.0)
    naive = float(naive_daily_t_test(d, ends, alpha=ALPHA).mean())

    assert rate <= NULL_BOUND, f"{rate:.3f} of null replays called a difference"
    # Read daily, the fixed-sample test's false positives are several times alpha: what the
    # confidence sequence is for.
    assert naive > NULL_BOUND, f"the naive test called only {naive:.3f}"


def test_peeking_every_day_keeps_alpha_when_days_keep_their_dependence(props: Props):
    """Each replay centres the real differences on their season mean and flips the sign of
    whole days: a null with mean 0 in which the props of a day keep the dependence they really
    have (a per-prop flip makes them independent). The sequence goes through the module's
    `confidence_sequence` at the same looks; a call is a look of MIN_PAIRS or more that
    excludes 0, as `compare` reads it."""
    ends = look_ends(props.days)
    day_of = np.repeat(np.arange(len(ends)), np.diff(ends, prepend=-1))
    residual = brier_differences(props, props.challenger)
    residual -= residual.mean()
    daily = np.bincount(day_of, weights=residual)
    # The days do move together: their sums vary more than independent props would make them.
    assert (daily**2).sum() / (residual**2).sum() > 1.15

    signs = np.where(np.random.default_rng(2025).random((NULL_REPLAYS, len(ends))) < 0.5, -1, 1)
    d = residual * signs[:, day_of]
    counted = ends + 1 >= MIN_PAIRS
    called = []
    for rows in np.array_split(d, NULL_REPLAYS // 50):
        _, low, high = confidence_sequence(rows, ends)
        called.append(((low[:, counted] > 0) | (high[:, counted] < 0)).any(axis=1))
    rate = float(np.concatenate(called).mean())
    naive = float(naive_daily_t_test(d, ends, alpha=ALPHA).mean())

    assert rate <= NULL_BOUND, f"{rate:.3f} of null replays called a difference"
    assert naive > NULL_BOUND, f"the naive test called only {naive:.3f}"
