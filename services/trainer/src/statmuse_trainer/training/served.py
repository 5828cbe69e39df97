"""The numbers a served bundle gives, for many rows at once: its means, dispersions and
fallback flags (`served_means`) and (under, push, over) at each row's line (`line_odds`),
exactly what `statmuse_shared.models.serving.predict` gives one row at a time. The evaluation,
the backtest and the line-weight fit read the bundles through these."""

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from statmuse_trainer.training.negbin import nb_cdf

if TYPE_CHECKING:
    from statmuse_shared.models.count import CountModel


def served_means(
    model: "CountModel", test: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray, list[str | None]]:
    """The served mean, dispersion and fallback flag for every row (vectorised path of the
    exact bundle the predictor loads)."""
    x = test[[f"f_{c}" for c in model.header.features]].to_numpy(np.float64)
    return model.means(x, [int(p) for p in test["player_id"]])


def line_odds(
    model: "CountModel",
    mu: np.ndarray,
    r: np.ndarray,
    lines: np.ndarray,
    *,
    calibrated: bool,
    use_line: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(under, push, over) at each row's line from NB(mu, r), through the model's isotonic
    map when `calibrated`. With `use_line` and a model that weighs sportsbook lines
    (`LineBlend`), from NB(blend centre, r) instead: what `serving.predict` gives at a book's
    line. Either way the same numbers `serving.predict` gives one row at a time."""
    blend = model.header.line_blend if use_line else None
    if blend is not None:
        return nb_line_odds(blend.centre(mu, lines), r, lines)
    if calibrated and model.cal_x is not None and model.cal_y is not None:
        return nb_line_odds(mu, r, lines, calibration=(model.cal_x, model.cal_y))
    return nb_line_odds(mu, r, lines)


def nb_line_odds(
    mu: np.ndarray,
    r: np.ndarray,
    lines: np.ndarray,
    *,
    calibration: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(under, push, over) at each line from NB(mu, phi=r), its CDF passed through the
    isotonic `calibration` knots when given."""

    def cdf(k: np.ndarray) -> np.ndarray:
        f = nb_cdf(k, mu, r)
        if calibration is not None:
            f = np.where(k < 0, 0.0, np.interp(f, *calibration))
        return f

    under = cdf(np.ceil(lines) - 1)
    at_or_below = cdf(np.floor(lines))
    push = np.where(lines == np.floor(lines), at_or_below - under, 0.0)
    return under, push, 1.0 - under - push


def given_no_push(under: np.ndarray, over: np.ndarray) -> np.ndarray:
    """P(over | the bet is decided): how the books' de-vigged price is stated."""
    return np.asarray(over / np.maximum(over + under, 1e-12), dtype=np.float64)
