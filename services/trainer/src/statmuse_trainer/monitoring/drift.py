"""Drift: has a distribution moved away from its reference? Pure logic (numpy and scipy, no
I/O). The rule, its defaults and why are in docs/MONITORING.md; in short:

- PSI over ten quantile bins of the reference (deciles; tied edges merged) plus one bin for
  missing values (NaN), so a feature that goes missing more (or less) often moves the PSI too.
  An empty bin counts as a share of `EPSILON`, else the logarithm is infinite.
- KS (two-sample, `scipy.stats.ks_2samp`) on the values present on both sides.
- A series *drifts* when PSI > `psi_threshold`, or when the KS p-value is below
  `ks_alpha / m` (Bonferroni over the m series tested together) AND the KS statistic is at
  least `ks_min_statistic`. With thousands of rows a KS test finds a trivial shift
  significant; the effect-size floor keeps it to shifts that matter.
- A stat's models are *drifted* when at least `min_features` of the features its model reads
  (`training.stat_data.feature_columns`) drift, counting only features that describe the game or the
  player (not the availability counts, which move with the calendar), or when its own
  predictions drift (predicted value or P(over), against an earlier window, same model).
"""

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy import stats as scipy_stats

from statmuse_shared.contract.stats import Stat
from statmuse_trainer.training.stat_data import feature_columns

EPSILON = 1e-4
BINS = 10
# Counts of games behind a number (`points_n_10`, `season_games`, ...) and the playoff flag move
# with the calendar (small in October, `is_playoffs` in April), not with the game: reported,
# never counted towards the decision.
CALENDAR = re.compile(r"(_n_\d+|_n|_games)$|^is_playoffs$")

Floats = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class DriftRule:
    psi_threshold: float = 0.2
    ks_alpha: float = 0.01
    ks_min_statistic: float = 0.1
    min_features: int = 3
    min_samples: int = 200  # present values on each side, for KS; rows on each side, for PSI


@dataclass(frozen=True, slots=True)
class SeriesDrift:
    """One feature (or prediction series) compared with its reference."""

    name: str
    psi: float | None
    ks_statistic: float | None
    ks_pvalue: float | None
    reference_n: int
    recent_n: int
    reference_missing: float  # share of rows with the value missing
    recent_missing: float
    drifted: bool
    counted: bool  # counts towards a stat's decision (False for calendar counts)


@dataclass(frozen=True, slots=True)
class StatDecision:
    stat: Stat
    fire: bool
    drifted_features: tuple[str, ...]
    drifted_predictions: tuple[str, ...]
    tested_features: int
    reason: str = field(default="")


def as_array(values: Sequence[float | None] | Floats) -> Floats:
    """Values as float64 with None (missing) as NaN."""
    return np.array([math.nan if v is None else v for v in values], dtype=np.float64)


def quantile_edges(reference: Floats, bins: int = BINS) -> Floats:
    """Interior cut points at the reference's quantiles (1/bins .. (bins-1)/bins) over its
    present values, ties merged: a constant feature has one edge and two bins."""
    present = reference[~np.isnan(reference)]
    if present.size == 0:
        return np.empty(0, dtype=np.float64)
    qs = np.linspace(0, 1, bins + 1)[1:-1]
    return np.unique(np.quantile(present, qs))


def bin_shares(values: Floats, edges: Floats) -> Floats:
    """Shares of `values` in the bins the edges make (a value on an edge goes to the bin
    above it), then the share missing as the last bin; they sum to 1."""
    counts = np.zeros(edges.size + 2, dtype=np.float64)
    missing = np.isnan(values)
    present = values[~missing]
    np.add.at(counts, np.searchsorted(edges, present, side="right"), 1.0)
    counts[-1] = float(missing.sum())
    return counts / max(values.size, 1)


def psi_of_shares(reference: Floats, recent: Floats, eps: float = EPSILON) -> float:
    """Population stability index: sum over bins of (recent - ref) * ln(recent / ref)."""
    ref = np.maximum(reference, eps)
    cur = np.maximum(recent, eps)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def psi(reference: Floats, recent: Floats, bins: int = BINS) -> float:
    edges = quantile_edges(reference, bins)
    return psi_of_shares(bin_shares(reference, edges), bin_shares(recent, edges))


def ks(reference: Floats, recent: Floats, min_samples: int) -> tuple[float, float] | None:
    """KS statistic and p-value on the present values; None with fewer than `min_samples`
    on either side."""
    a, b = reference[~np.isnan(reference)], recent[~np.isnan(recent)]
    if a.size < min_samples or b.size < min_samples:
        return None
    result = scipy_stats.ks_2samp(a, b)
    return float(result.statistic), float(result.pvalue)


def compare(
    name: str, reference: Floats, recent: Floats, *, rule: DriftRule, tests: int
) -> SeriesDrift:
    """One series against its reference under the rule; `tests` is how many series are
    tested together (the Bonferroni divisor)."""
    enough = reference.size >= rule.min_samples and recent.size >= rule.min_samples
    value = psi(reference, recent) if enough else None
    tested = ks(reference, recent, rule.min_samples)
    statistic, pvalue = tested if tested is not None else (None, None)
    by_psi = value is not None and value > rule.psi_threshold
    by_ks = (
        statistic is not None
        and pvalue is not None
        and pvalue < rule.ks_alpha / max(tests, 1)
        and statistic >= rule.ks_min_statistic
    )
    return SeriesDrift(
        name=name,
        psi=value,
        ks_statistic=statistic,
        ks_pvalue=pvalue,
        reference_n=int(reference.size),
        recent_n=int(recent.size),
        reference_missing=float(np.isnan(reference).mean()) if reference.size else 0.0,
        recent_missing=float(np.isnan(recent).mean()) if recent.size else 0.0,
        drifted=by_psi or by_ks,
        counted=CALENDAR.search(name) is None,
    )


def compare_all(
    reference: Mapping[str, Floats], recent: Mapping[str, Floats], *, rule: DriftRule
) -> list[SeriesDrift]:
    """Every series present in both, tested together (one Bonferroni family)."""
    names = sorted(set(reference) & set(recent))
    return [compare(n, reference[n], recent[n], rule=rule, tests=len(names)) for n in names]


def decide(
    stat: Stat,
    features: Sequence[SeriesDrift],
    predictions: Sequence[SeriesDrift],
    *,
    rule: DriftRule,
) -> StatDecision:
    """Whether the stat's models face drift (see the module's doc for the rule)."""
    relevant = set(feature_columns(stat.value))
    mine = [f for f in features if f.name in relevant and f.counted]
    drifted = tuple(f.name for f in mine if f.drifted)
    moved = tuple(p.name for p in predictions if p.drifted)
    fire = len(drifted) >= rule.min_features or bool(moved)
    parts = []
    if len(drifted) >= rule.min_features:
        parts.append(f"{len(drifted)} of {len(mine)} features drifted: {', '.join(drifted[:8])}")
    if moved:
        parts.append(f"predictions drifted: {', '.join(moved)}")
    return StatDecision(stat, fire, drifted, moved, len(mine), "; ".join(parts))
