"""The negative binomial every count model uses, vectorised over rows: mean mu and variance
phi * mu ("NB1"), its CDF and log pmf, the dispersion phi fitted by maximum likelihood
(pooled) and per player (method of moments, shrunk towards the pooled value), and P(over) at
half-point lines. Pure numpy and scipy."""

import math

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

MIN_PHI, MAX_PHI = 1.01, 50.0  # variance-to-mean ratio: just above Poisson, up to very wide
SHRINK_GAMES = 30.0  # dispersion shrinkage: a player's own estimate counts as n / (n + 30)


def nb_size(mu: np.ndarray | float, phi: np.ndarray | float) -> np.ndarray:
    """The negative binomial's size r for mean mu and variance phi * mu ("NB1"): variance
    grows with the mean, as it does for points (a bench player's 5 and a star's 27 have
    variance-to-mean ratios of about 3 and 2.4; a constant r would give the star an sd of 16)."""
    return np.asarray(mu, dtype=np.float64) / (np.asarray(phi, dtype=np.float64) - 1.0)


def nb_cdf(k: np.ndarray, mu: np.ndarray, phi: np.ndarray | float) -> np.ndarray:
    """P(X <= k) for NB with mean mu and variance phi * mu; k < 0 gives 0."""
    k = np.asarray(k, dtype=float)
    r = nb_size(mu, phi)
    out = special.betainc(r, np.maximum(k, 0) + 1.0, r / (r + mu))
    return np.asarray(np.where(k < 0, 0.0, out), dtype=np.float64)


def nb_logpmf(y: np.ndarray, mu: np.ndarray, phi: float | np.ndarray) -> np.ndarray:
    r = nb_size(mu, phi)
    return np.asarray(
        special.gammaln(y + r)
        - special.gammaln(r)
        - special.gammaln(y + 1)
        + r * np.log(r / (r + mu))
        + y * np.log(mu / (r + mu)),
        dtype=np.float64,
    )


def fit_dispersion_mle(y: np.ndarray, mu: np.ndarray) -> float:
    """Pooled variance-to-mean ratio phi maximising the NB likelihood of y given means mu."""
    res = optimize.minimize_scalar(
        lambda log_excess: -float(np.sum(nb_logpmf(y, mu, 1.0 + math.exp(log_excess)))),
        bounds=(math.log(MIN_PHI - 1.0), math.log(MAX_PHI - 1.0)),
        method="bounded",
    )
    return float(1.0 + math.exp(res.x))


def player_dispersions(
    player_ids: np.ndarray, y: np.ndarray, mu: np.ndarray, pooled: float
) -> dict[int, float]:
    """Per-player phi: the method-of-moments estimate sum((y - mu)^2) / sum(mu) from the
    player's residuals, shrunk towards the pooled phi on the log(phi - 1) scale with weight
    n / (n + SHRINK_GAMES)."""
    out = {}
    frame = pd.DataFrame({"p": player_ids, "y": y, "mu": mu})
    for pid, g in frame.groupby("p", sort=False):
        n = len(g)
        if n < 10:
            continue
        own = float(np.sum((g["y"] - g["mu"]) ** 2)) / max(float(np.sum(g["mu"])), 1e-9)
        own = min(max(own, MIN_PHI), MAX_PHI)
        w = n / (n + SHRINK_GAMES)
        excess = math.exp(w * math.log(own - 1.0) + (1 - w) * math.log(pooled - 1.0))
        out[int(pid)] = 1.0 + excess  # type: ignore[arg-type]
    return out


# Per-player spreads are kept only when the later games favour them by a one-sided test at this
# level (days as clusters), the bar per-player heads must clear too.
DISPERSION_ALPHA = 0.05


def earned_dispersions(
    player_ids: np.ndarray, days: np.ndarray, y: np.ndarray, mu: np.ndarray, pooled: float
) -> tuple[dict[int, float], float]:
    """Per-player phi only where they earn their place, judged forward in time: fitted (with
    their own pooled phi) on the games before the median day and scored by the negative
    binomial log-loss of the later games. Kept (`player_dispersions` on every game) when that
    loss is lower than the pooled phi's by a one-sided test at DISPERSION_ALPHA, the games of
    a day resampled together (a z-test with a day-clustered standard error); else none, and
    every player gets the pooled phi. Also returns the later games' log-loss change,
    per-player minus pooled, per game (0 when there was nothing to judge)."""
    days = np.asarray(days)
    if len(days) == 0:
        return {}, 0.0
    cut = np.sort(days)[len(days) // 2]
    early, late = days < cut, days >= cut
    if early.sum() < 50 or late.sum() < 50:
        return {}, 0.0
    first = fit_dispersion_mle(y[early], mu[early])
    own = player_dispersions(player_ids[early], y[early], mu[early], first)
    if not own:
        return {}, 0.0
    phi = np.array([own.get(int(p), first) for p in player_ids[late]])
    diff = nb_logpmf(y[late], mu[late], first) - nb_logpmf(y[late], mu[late], phi)
    change = float(np.mean(diff))
    _, day = np.unique(days[late], return_inverse=True)
    per_day = np.bincount(day, weights=diff)
    games = np.bincount(day).astype(float)
    n_days = len(per_day)
    se = math.sqrt(np.sum((per_day - change * games) ** 2) * n_days / max(n_days - 1, 1))
    se /= float(games.sum())
    if se == 0 or not change / se <= -stats.norm.isf(DISPERSION_ALPHA):
        return {}, change
    return player_dispersions(player_ids, y, mu, pooled), change


def over_probability(mu: np.ndarray, phi: np.ndarray | float, lines: np.ndarray) -> np.ndarray:
    """P(X > line) for half-point lines (whole lines: the push is neither over nor under)."""
    return 1.0 - nb_cdf(np.floor(lines), mu, phi)
