"""The numbers a served bundle gives, for many rows at once: its means, dispersions and
fallback flags (`served_means`) and (under, push, over) at each row's line (`line_odds`),
exactly what `statmuse_shared.models.serving.predict` gives one row at a time. The evaluation,
the backtest and the line-weight fit read the bundles through these."""

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from statmuse_shared.models.distributions import NegativeBinomial, line_probabilities
from statmuse_shared.models.market import LOGIT_EDGE, MIN_CENTRE, PINNED, centre_for_over
from statmuse_trainer.training.negbin import nb_cdf

if TYPE_CHECKING:
    from statmuse_shared.models.count import CountModel, LineBlend
    from statmuse_shared.models.market import MarketLayer


def seen_seasons(bundle: Path) -> set[str]:
    """The seasons a bundle's model was fitted, chosen or calibrated on (its sidecar's
    training window); empty when the sidecar does not say."""
    sidecar = bundle.with_suffix(".json")
    if not sidecar.exists():
        return set()
    window = json.loads(sidecar.read_text()).get("training_window") or {}
    return {str(s) for s in window.get("seasons", [])}


class InSampleError(ValueError):
    """Scoring or fitting on games the model already saw."""


def refuse_in_sample(bundle: Path, season: str) -> None:
    if season in seen_seasons(bundle):
        raise InSampleError(
            f"{bundle} was fitted on {season}: its numbers there would be in-sample; use "
            f"bundles that never saw it (the shipped ones that did not: models/holdout-2023-24)"
        )


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
    books: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(under, push, over) at each row's line from NB(mu, r), through the model's isotonic
    map when `calibrated`. With `use_line`: at a book's line the way `serving.predict` prices
    it: with the books' de-vigged P(over) (`books`) and a model with a `MarketLayer`, the
    layer's distribution; else, with a `LineBlend`, NB(blend centre, r). Either way the same
    numbers `serving.predict` gives one row at a time."""
    layer = model.header.market_layer if use_line else None
    if layer is not None and books is not None:
        return market_odds(layer, model.header.line_blend, mu, r, lines, books)
    blend = model.header.line_blend if use_line else None
    if blend is not None:
        return nb_line_odds(blend.centre(mu, lines), r, lines)
    if calibrated and model.cal_x is not None and model.cal_y is not None:
        return nb_line_odds(mu, r, lines, calibration=(model.cal_x, model.cal_y))
    return nb_line_odds(mu, r, lines)


def logits(p: np.ndarray) -> np.ndarray:
    """logit, clipped as `statmuse_shared.models.market.logit` clips."""
    p = np.clip(p, LOGIT_EDGE, 1 - LOGIT_EDGE)
    return np.asarray(np.log(p / (1 - p)), dtype=np.float64)


def layer_over(coef: np.ndarray, books: np.ndarray, model: np.ndarray) -> np.ndarray:
    """`MarketLayer.over` for many rows; coef = (intercept, book weight, model weight)."""
    z = coef[0] + coef[1] * logits(books) + coef[2] * logits(model)
    return np.asarray(1 / (1 + np.exp(-z)), dtype=np.float64)


def market_odds(
    layer: "MarketLayer",
    blend: "LineBlend | None",
    mu: np.ndarray,
    r: np.ndarray,
    lines: np.ndarray,
    books: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(under, push, over) from the market layer (`ModelOutput.at_line`, vectorised): P(over
    | no push) is the layer's; a whole-number line's push comes from the layer's negative
    binomial (solved row by row, as served). Where no negative binomial gives the layer's
    number (a whole line of 0; a P(over) below what the smallest mean gives), the line blend's,
    as served (a bundle without one: the model's NB uncalibrated here, its calibrated table
    when served)."""
    own_mu = np.maximum(mu, 0.05)
    u, _, o = nb_line_odds(own_mu, r, lines)
    coef = np.array([layer.intercept, layer.book_weight, layer.model_weight])
    p = layer_over(coef, books, given_no_push(u, o))
    under, push, over = 1.0 - p, np.zeros_like(p), p.copy()
    # The smallest mean's P(over | no push): a layer's number below it has no distribution.
    lu, _, lo = nb_line_odds(np.full(len(p), MIN_CENTRE), r, lines)
    pinned = logits(given_no_push(lu, lo)) - logits(p) > PINNED
    whole = lines == np.floor(lines)
    for i in np.flatnonzero(whole & ~pinned):
        c = centre_for_over(float(p[i]), float(lines[i]), float(r[i]), start=max(own_mu[i], 1.0))
        if c is None:
            pinned[i] = True
            continue
        odds = line_probabilities(NegativeBinomial(c, c / (float(r[i]) - 1.0)), float(lines[i]))
        under[i], push[i], over[i] = (
            odds.under_probability,
            odds.push_probability,
            odds.over_probability,
        )
    if pinned.any():
        centre = blend.centre(mu[pinned], lines[pinned]) if blend is not None else own_mu[pinned]
        fu, fp, fo = nb_line_odds(centre, r[pinned], lines[pinned])
        under[pinned], push[pinned], over[pinned] = fu, fp, fo
    return under, push, over


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
