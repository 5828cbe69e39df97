"""A/B test of two models on the same props, with a verdict that survives daily peeking: pure
logic, settled pairs in, scores and a verdict out (no I/O).

Arm A is production, arm B the challenger. A record is one prop (player, game, line) both
arms priced: each arm's P(over), the outcome (over hit or not; the caller leaves pushes and
voids out), the day it settled and, where a book had the line, the books' de-vigged P(over).
Records come in time order; every settle day is a *look*.

The test is on the paired Brier difference of each prop,

    D_i = (p_B,i - y_i)^2 - (p_A,i - y_i)^2    in [-1, 1],

challenger minus production: positive means the challenger scored worse. After t pairs with
mean m_t and variance s_t^2 (below), the two-sided (1 - alpha) asymptotic confidence sequence
for the mean of D is

    m_t +/- s_t * sqrt( 2 (t rho^2 + 1) / (t^2 rho^2) * log( sqrt(t rho^2 + 1) / alpha ) ),

    rho^2 = ( 2 log(1/alpha) + log(1 + 2 log(1/alpha)) ) / t*,

Robbins' normal-mixture boundary (Howard, Ramdas, McAuliffe & Sekhon, "Time-uniform,
nonparametric, nonasymptotic confidence sequences", Ann. Statist. 49(2), 2021) with the running
variance plugged in: Theorem 2.2 of Waudby-Smith, Arbour, Sinha, Kennedy & Ramdas,
"Time-uniform central limit theory and asymptotic confidence sequences" (arXiv:2103.06476,
Ann. Statist. 2024). It covers the true mean at *every* t at once with probability about
1 - alpha (asymptotically: the CLT is what makes a plug-in variance fair, hence a minimum
sample), so reading it every day and stopping on the first verdict keeps the error rate at
alpha. `rho` only decides where the sequence is tightest: near t* pairs (`tuned_for`). A
fixed-sample interval read every day would not hold alpha (see the replay test).

The theorem's s_t^2 is the running empirical variance (1/t) sum_i (D_i - m_t)^2, for
independent pairs. Props of one day are not quite independent (one game's pace and minutes
move several props; on the real 2023-24 replay the daily sums vary 1.3 times as much as
independent pairs would make them), so s_t^2 here is the larger of that and the day-clustered
variance (1/t) sum_j (S_j - n_j m_t)^2, S_j the sum of day j's n_j differences: the normal
mixture over days as the independent steps, a cluster-robust plug-in of ours, not the
paper's. The pair variance is its floor while few days are in, when the day
variance is unreliable. With one pair a day the two are equal.

The rule at a look with n pairs and the sequence [low, high]:
- n < `min_pairs`: "keep running" (the plug-in variance needs a sample);
- low > 0: "challenger worse"; high < 0: "challenger better" (these win over the next);
- -margin <= low and high <= margin: "no difference" (what is left is under the margin);
- else "keep running".
The first look with a verdict other than "keep running" ends the test; its verdict, day and
figures are the result, whatever later days would read (a stopping rule).

The default margin, 0.002 Brier, comes from the real 2023-24 points props (rotation players,
the line at the half point under each last-10 mean, P(over) from a negative binomial with
dispersion 8 around a recent mean): an arm on the last 20 games against one on the last 10
differs by 0.0012, the season to date by 0.0027, the last 5 by 0.011, the last 3 by 0.023. A
margin of 0.002 calls the first gap a tie and not the others. Smaller is not affordable: the
paired differences of such arms have a standard deviation s of 0.10-0.19 and the half-width is
about 3.1 s / sqrt(t) near t*, so +/-0.002 already takes some 25,000 pairs at s = 0.10 (a few
months of props) and +/-0.001 four times that. In Brier terms 0.002 is what P(over) off by
about sqrt(0.002) = 0.045 (RMS) on every prop costs against an arm with the true probabilities.

Days are taken as independent of each other (a player's slump spans days; the replay's
null that keeps each day's real dependence holds alpha, see test_trainer_abtest_replay.py).
"""

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from statmuse_trainer import scoring
from statmuse_trainer.scoring import Estimate, Floats

Verdict = Literal["keep running", "challenger better", "challenger worse", "no difference"]
KEEP_RUNNING: Verdict = "keep running"
CHALLENGER_BETTER: Verdict = "challenger better"
CHALLENGER_WORSE: Verdict = "challenger worse"
NO_DIFFERENCE: Verdict = "no difference"

ALPHA = 0.05
MARGIN = 0.002  # Brier; why this much: the module's docstring
MIN_PAIRS = 500  # before any verdict: the plug-in variance leans on the CLT (about a week of props)
TUNED_FOR = 5_000  # pairs: a few weeks of settled props, where the sequence is tightest


@dataclass(frozen=True, slots=True)
class ArmScores:
    """One arm on the pairs up to the deciding look.

    `picks` are the props where the arm takes a side, over when P(over) > 0.5 and under when
    P(over) < 0.5 (P = 0.5 takes none); `hit_rate` is the share of picks whose side came in, at
    even money (no price or edge threshold, unlike the monitor's bets). `brier_vs_books` is the
    arm's Brier minus the books' on the `books_n` props with a book P(over) (None without)."""

    n: int
    brier: float
    log_loss: float
    picks: int
    hit_rate: float | None
    books_n: int
    brier_vs_books: float | None


@dataclass(frozen=True, slots=True)
class Look:
    """One settle day: the pairs so far, the Brier difference (challenger minus production)
    with its confidence sequence there, and what the rule reads at this look alone."""

    day: dt.date
    n: int
    brier_difference: Estimate
    verdict: Verdict


@dataclass(frozen=True, slots=True)
class ABResult:
    """The test's outcome. `decided_on` is the first look with a verdict (None while it keeps
    running); the scores and differences are those of that look (of the last look while it
    keeps running). Differences are challenger minus production, with the confidence sequence
    at that look (the log loss's is reported, not decided on)."""

    verdict: Verdict
    decided_on: dt.date | None
    production: ArmScores
    challenger: ArmScores
    brier_difference: Estimate
    log_loss_difference: Estimate
    looks: tuple[Look, ...]
    alpha: float
    margin: float
    min_pairs: int


def mixture_rho2(alpha: float = ALPHA, tuned_for: float = TUNED_FOR) -> float:
    """rho^2 that makes the normal-mixture boundary tightest near `tuned_for` observations."""
    log_inverse = 2 * math.log(1 / alpha)
    return (log_inverse + math.log(1 + log_inverse)) / tuned_for


def confidence_sequence(
    differences: npt.ArrayLike,
    looks: npt.ArrayLike | None = None,
    *,
    alpha: float = ALPHA,
    tuned_for: float = TUNED_FOR,
) -> tuple[Floats, Floats, Floats]:
    """The running mean of `differences` and its (1 - alpha) asymptotic confidence sequence
    (low, high) at each look, along the last axis (a 2-D array holds one sequence a row).

    `looks` holds the index of each look's last record, increasing, the last record's last; the
    records after one look up to the next are that day's. None makes every record a look of
    its own. The formula, its reference and the day variance: the module's docstring."""
    _check_sequence(alpha=alpha, tuned_for=tuned_for)
    d = np.asarray(differences, dtype=np.float64)
    if not np.isfinite(d).all():
        raise ValueError("differences must be finite numbers (no NaN or infinity)")
    n = d.shape[-1]
    ends = np.arange(n) if looks is None else np.asarray(looks, dtype=np.int64).reshape(-1)
    if n == 0 or len(ends) == 0 or ends[0] < 0 or ends[-1] != n - 1 or (np.diff(ends) <= 0).any():
        raise ValueError(
            f"looks must be increasing record indices ending at the last record ({n - 1}): "
            f"got {len(ends)} looks"
        )
    t = (ends + 1).astype(np.float64)
    total = np.cumsum(d, axis=-1)[..., ends]
    mean = total / t
    pair_variance = np.cumsum(d * d, axis=-1)[..., ends] / t - mean * mean
    # Each day's sum S_j of n_j pairs: (1/t) sum_j (S_j - n_j m_t)^2, expanded into sums.
    day_sum = np.diff(total, axis=-1, prepend=0.0)
    day_n = np.diff(t, prepend=0.0)
    day_variance = (
        np.cumsum(day_sum * day_sum, axis=-1)
        - 2 * mean * np.cumsum(day_n * day_sum, axis=-1)
        + mean * mean * np.cumsum(day_n * day_n)
    ) / t
    variance = np.maximum(np.maximum(pair_variance, day_variance), 0.0)
    rho2 = mixture_rho2(alpha, tuned_for)
    scale = t * rho2 + 1
    radius = np.sqrt(variance * 2 * scale / (t * t * rho2) * np.log(np.sqrt(scale) / alpha))
    return mean, mean - radius, mean + radius


def read_look(n: int, low: float, high: float, *, margin: float, min_pairs: int) -> Verdict:
    """The rule at one look (the module's docstring)."""
    if n < min_pairs:
        return KEEP_RUNNING
    if low > 0:
        return CHALLENGER_WORSE
    if high < 0:
        return CHALLENGER_BETTER
    if -margin <= low and high <= margin:
        return NO_DIFFERENCE
    return KEEP_RUNNING


def compare(
    days: Sequence[dt.date],
    production: npt.ArrayLike,
    challenger: npt.ArrayLike,
    went_over: npt.ArrayLike,
    books: Sequence[float | None] | None = None,
    *,
    alpha: float = ALPHA,
    margin: float = MARGIN,
    min_pairs: int = MIN_PAIRS,
    tuned_for: float = TUNED_FOR,
) -> ABResult:
    """The sequential A/B test over paired records in time order, one a prop: its settle day,
    production's and the challenger's P(over), whether the over hit, and the books' de-vigged
    P(over) (None where no book had the line; `books` None when none had). Every distinct day
    is a look; the first look with a verdict decides.

    Raises ValueError on no records, columns of different lengths, days out of order, a
    probability outside [0, 1] or NaN, an outcome other than 0/1, or settings out of range."""
    _check_settings(alpha=alpha, margin=margin, min_pairs=min_pairs, tuned_for=tuned_for)
    p_a = _probabilities("production", production)
    p_b = _probabilities("challenger", challenger)
    y = _outcomes(went_over)
    book = _books(books, len(p_a))
    columns = {"days": len(days), "production": len(p_a), "challenger": len(p_b)}
    columns |= {"went_over": len(y), "books": len(book)}
    if len(set(columns.values())) != 1:
        sizes = ", ".join(f"{name} {size}" for name, size in columns.items())
        raise ValueError(f"the columns must have one length each (one per prop): {sizes}")
    if len(p_a) == 0:
        raise ValueError("no paired records: an A/B test needs at least one settled prop")
    ordinals = np.array([d.toordinal() for d in days])
    if (np.diff(ordinals) < 0).any():
        first = int(np.argmax(np.diff(ordinals) < 0)) + 1
        raise ValueError(
            f"records must be in time order: day {days[first]} at index {first} "
            f"comes after {days[first - 1]}"
        )

    brier_d = (p_b - y) ** 2 - (p_a - y) ** 2
    log_loss_d = _log_losses(p_b, y) - _log_losses(p_a, y)
    # A look is a day's last record: the pairs up to it are its index + 1.
    ends = np.flatnonzero(np.append(np.diff(ordinals) != 0, True))
    brier = confidence_sequence(brier_d, ends, alpha=alpha, tuned_for=tuned_for)
    log_loss = confidence_sequence(log_loss_d, ends, alpha=alpha, tuned_for=tuned_for)
    looks = tuple(
        Look(
            day=days[i],
            n=i + 1,
            brier_difference=_estimate(brier, k, i + 1),
            verdict=read_look(
                i + 1, float(brier[1][k]), float(brier[2][k]), margin=margin, min_pairs=min_pairs
            ),
        )
        for k, i in enumerate(ends.tolist())
    )
    decided = next((k for k, look in enumerate(looks) if look.verdict != KEEP_RUNNING), None)
    k = len(looks) - 1 if decided is None else decided
    at = looks[k]
    n = at.n
    return ABResult(
        verdict=at.verdict,
        decided_on=None if decided is None else at.day,
        production=arm_scores(p_a[:n], y[:n], book[:n]),
        challenger=arm_scores(p_b[:n], y[:n], book[:n]),
        brier_difference=at.brier_difference,
        log_loss_difference=_estimate(log_loss, k, n),
        looks=looks,
        alpha=alpha,
        margin=margin,
        min_pairs=min_pairs,
    )


def arm_scores(p: Floats, y: Floats, books: Floats) -> ArmScores:
    """An arm's scores on its P(over) `p` against outcomes `y`; `books` holds the books'
    P(over), NaN where there was no line."""
    side = np.sign(p - 0.5)  # +1 over, -1 under, 0 no side
    picked = side != 0
    hits = int(((side > 0) & (y == 1)).sum() + ((side < 0) & (y == 0)).sum())
    picks = int(picked.sum())
    quoted = ~np.isnan(books)
    books_n = int(quoted.sum())
    return ArmScores(
        n=len(p),
        brier=scoring.brier(p, y),
        log_loss=scoring.log_loss(p, y),
        picks=picks,
        hit_rate=hits / picks if picks else None,
        books_n=books_n,
        brier_vs_books=(
            scoring.brier(p[quoted], y[quoted]) - scoring.brier(books[quoted], y[quoted])
            if books_n
            else None
        ),
    )


def _estimate(sequence: tuple[Floats, Floats, Floats], look: int, n: int) -> Estimate:
    """The running mean and the confidence sequence at a look of n pairs."""
    mean, low, high = sequence
    return Estimate(float(mean[look]), float(low[look]), float(high[look]), n)


def _log_losses(p: Floats, y: Floats) -> Floats:
    """Each record's log loss, clipped as `scoring.log_loss` clips (its mean is that)."""
    eps = scoring.LOG_LOSS_EPSILON
    q = np.clip(p, eps, 1 - eps)
    losses: Floats = -(y * np.log(q) + (1 - y) * np.log(1 - q))
    return losses


def _check_sequence(*, alpha: float, tuned_for: float) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1): got {alpha}")
    if not tuned_for > 0:
        raise ValueError(f"tuned_for must be a positive number of pairs: got {tuned_for}")


def _check_settings(*, alpha: float, margin: float, min_pairs: int, tuned_for: float) -> None:
    _check_sequence(alpha=alpha, tuned_for=tuned_for)
    if not margin >= 0:  # also refuses NaN
        raise ValueError(f"margin must be a Brier difference >= 0: got {margin}")
    if min_pairs < 1:
        raise ValueError(f"min_pairs must be at least 1: got {min_pairs}")


def _probabilities(name: str, values: npt.ArrayLike) -> Floats:
    p = np.asarray(values, dtype=np.float64).reshape(-1)
    bad = np.flatnonzero(~((p >= 0) & (p <= 1)))  # NaN fails both comparisons
    if len(bad):
        i = int(bad[0])
        raise ValueError(
            f"{name} P(over) must be a probability in [0, 1]: got {p[i]} at index {i} "
            f"({len(bad)} bad in all)"
        )
    return p


def _outcomes(values: npt.ArrayLike) -> Floats:
    y = np.asarray(values, dtype=np.float64).reshape(-1)
    bad = np.flatnonzero((y != 0) & (y != 1))
    if len(bad):
        i = int(bad[0])
        raise ValueError(
            f"went_over must be 0/1 or a bool (pushes and voids left out): got {y[i]} at index {i}"
        )
    return y


def _books(values: Sequence[float | None] | None, n: int) -> Floats:
    """The books' P(over) with NaN for no line; NaN given as a value is refused (say None)."""
    if values is None:
        return np.full(n, np.nan)
    raw = [math.nan if v is None else v for v in values]
    for i, v in enumerate(values):
        if v is not None and not 0 <= v <= 1:
            raise ValueError(
                f"books' P(over) must be a probability in [0, 1] or None (no line): got {v} "
                f"at index {i}"
            )
    return np.asarray(raw, dtype=np.float64)
