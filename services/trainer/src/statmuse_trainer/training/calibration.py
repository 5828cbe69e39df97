"""Calibration of a count model's CDF: an isotonic map g from model CDF to observed
frequency, fitted on (F(k), 1[y <= k]) at the whole numbers around each validation line and
read at CALIBRATION_KNOTS evenly spaced CDF values. The served CDF is g∘F, still monotone, so
P(over), P(under) and P(push) at any line stay consistent and sum to 1. Pure numpy and
scikit-learn."""

import numpy as np

from statmuse_trainer.training.negbin import nb_cdf

CALIBRATION_KNOTS = 11  # the calibration map is piecewise linear between these CDF values


def cdf_pairs(
    y: np.ndarray, mu: np.ndarray, phi: np.ndarray, lines: np.ndarray, spread: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """(F(k), 1[y <= k]) for the whole numbers k within `spread` of each row's line."""
    ks = np.floor(lines)[:, None] + np.arange(-spread, spread + 1)[None, :]
    ks = np.maximum(ks, 0)
    f = nb_cdf(ks, mu[:, None], phi[:, None])
    hit = (y[:, None] <= ks).astype(float)
    return f.ravel(), hit.ravel()


def fit_calibration(f: np.ndarray, hit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Isotonic map from model CDF to observed frequency, as interpolation knots pinned at
    (0, 0) and (1, 1)."""
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(f, hit)
    # Isotonic regression is a step function; used as is, the calibrated CDF would be flat
    # over runs of whole numbers and the distribution would pile its mass on a few values.
    # One knot per step, at the step's centre, interpolated linearly ("centred isotonic
    # regression"), keeps it monotone, continuous and strictly increasing.
    xs, ys = iso.X_thresholds_, iso.y_thresholds_
    starts = np.flatnonzero(np.r_[True, np.diff(ys) != 0])
    ends = np.r_[starts[1:], len(ys)]
    centre_x = np.array([xs[a:b].mean() for a, b in zip(starts, ends, strict=True)])
    inner = (ys[starts] > 0) & (ys[starts] < 1)  # the pinned ends stand for blocks at 0 or 1
    x = np.concatenate([[0.0], centre_x[inner], [1.0]])
    y = np.concatenate([[0.0], ys[starts][inner], [1.0]])
    x, keep = np.unique(x, return_index=True)
    y = np.maximum.accumulate(y[keep])
    # Even centred, a map with a hundred knots has slopes that jump from knot to knot, and the
    # pmf (the CDF's differences) comes out ragged. The map is read at CALIBRATION_KNOTS evenly
    # spaced CDF values instead: a few straight pieces, still monotone, pinned at 0 and 1.
    grid = np.linspace(0.0, 1.0, CALIBRATION_KNOTS)
    return grid, np.maximum.accumulate(np.interp(grid, x, y))


def calibrated_over(
    mu: np.ndarray, phi: np.ndarray, lines: np.ndarray, knots: tuple[np.ndarray, np.ndarray]
) -> np.ndarray:
    f = nb_cdf(np.floor(lines), mu, phi)
    return np.asarray(1.0 - np.interp(f, knots[0], knots[1]), dtype=np.float64)
