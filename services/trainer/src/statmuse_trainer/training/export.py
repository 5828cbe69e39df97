"""Fitted scikit-learn and XGBoost regressors -> the numpy-only parts in
`statmuse_shared.models.regressors`, which the predictor and gateway serve without either
library and without pickle. Each exporter reproduces the library's own `predict` (same trees,
same float32 comparisons, same missing-value routing), which the unit tests check to 1e-5.
"""

import json
import math
import re
from typing import Any

import numpy as np
import numpy.typing as npt

from statmuse_shared.models.regressors import LinearPart, TreePart

FloatArray = npt.NDArray[np.float64]


# -- linear --------------------------------------------------------------------------------
def linear_from_sklearn(
    model: Any, *, impute: npt.ArrayLike, mean: npt.ArrayLike, scale: npt.ArrayLike
) -> LinearPart:
    """A fitted linear regressor (ElasticNet, Ridge, Lasso, LinearRegression) trained on
    imputed, standardised features: the caller passes the imputation values and the
    standardisation it used, one per feature."""
    from sklearn.base import is_regressor

    if not is_regressor(model) or not hasattr(model, "coef_"):
        raise ValueError(f"expected a fitted linear regressor, got {type(model).__name__}")
    coef = np.asarray(model.coef_, dtype=np.float64)
    if coef.ndim == 2 and coef.shape[0] == 1:
        coef = coef[0]
    if coef.ndim != 1:
        raise ValueError(f"expected a single-target model, coef_ has shape {coef.shape}")
    intercept = np.asarray(model.intercept_, dtype=np.float64)
    if intercept.size != 1:
        raise ValueError(f"expected a single-target model, intercept_ has shape {intercept.shape}")
    return LinearPart(
        impute=np.asarray(impute, dtype=np.float64),
        mean=np.asarray(mean, dtype=np.float64),
        scale=np.asarray(scale, dtype=np.float64),
        coef=coef,
        intercept=float(intercept.reshape(-1)[0]),
    )


def linear_from_pipeline(pipeline: Any) -> LinearPart:
    """Pipeline([SimpleImputer, StandardScaler, linear regressor]), fitted.

    With `keep_empty_features=False` the imputer drops features that were all-missing in
    training; they come back here with a zero coefficient, so the part takes every column."""
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    steps = [step for _, step in pipeline.steps] if isinstance(pipeline, Pipeline) else []
    if (
        len(steps) != 3
        or not isinstance(steps[0], SimpleImputer)
        or not isinstance(steps[1], StandardScaler)
    ):
        raise ValueError("expected Pipeline([SimpleImputer, StandardScaler, linear regressor])")
    imputer, scaler, model = steps
    if imputer.add_indicator:
        raise ValueError("SimpleImputer(add_indicator=True) is not supported")
    if not _is_nan(imputer.missing_values):
        raise ValueError(f"SimpleImputer must treat NaN as missing, not {imputer.missing_values!r}")
    statistics = np.asarray(imputer.statistics_, dtype=np.float64)
    kept = (
        np.ones(statistics.size, dtype=np.bool_)
        if imputer.keep_empty_features
        else ~np.isnan(statistics)
    )
    width = int(kept.sum())
    mean = scaler.mean_ if scaler.with_mean else np.zeros(width)
    scale = scaler.scale_ if scaler.with_std else np.ones(width)
    part = linear_from_sklearn(model, impute=statistics[kept], mean=mean, scale=scale)
    if kept.all():
        return part

    def widen(values: FloatArray, fill: float) -> FloatArray:
        full = np.full(statistics.size, fill)
        full[kept] = values
        return full

    return LinearPart(
        impute=widen(part.impute, 0.0),
        mean=widen(part.mean, 0.0),
        scale=widen(part.scale, 1.0),
        coef=widen(part.coef, 0.0),
        intercept=part.intercept,
    )


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


# -- scikit-learn forests ------------------------------------------------------------------
def _float32_at_most(threshold: FloatArray) -> npt.NDArray[np.float32]:
    """The largest float32 <= each float64 threshold. scikit-learn compares a float32 x with
    a float64 threshold; for float32 x, x <= t exactly when x <= this."""
    with np.errstate(over="ignore"):
        t32 = threshold.astype(np.float32)
    above = t32.astype(np.float64) > threshold
    return np.where(above, np.nextafter(t32, np.float32(-np.inf)), t32).astype(np.float32)


def forest_from_sklearn(forest: Any) -> TreePart:
    """A fitted RandomForestRegressor (or ExtraTreesRegressor): the average of its trees.

    NaN follows `tree_.missing_go_to_left`, which scikit-learn (>= 1.4) sets whether or not
    the forest saw NaN in training (without: towards the child with more samples)."""
    from sklearn.ensemble import ExtraTreesRegressor, RandomForestRegressor

    if not isinstance(forest, RandomForestRegressor | ExtraTreesRegressor):
        raise ValueError(f"expected a RandomForestRegressor, got {type(forest).__name__}")
    if not hasattr(forest, "estimators_"):
        raise ValueError("the forest is not fitted")
    if forest.n_outputs_ != 1:
        raise ValueError(f"expected a single-target forest, got {forest.n_outputs_} outputs")
    roots, features, thresholds, lefts, rights, defaults, values = [], [], [], [], [], [], []
    offset = 0
    for estimator in forest.estimators_:
        tree = estimator.tree_
        leaf = tree.children_left == -1
        roots.append(offset)
        features.append(np.where(leaf, -1, tree.feature))
        thresholds.append(np.where(leaf, 0.0, _float32_at_most(tree.threshold)))
        lefts.append(np.where(leaf, -1, tree.children_left + offset))
        rights.append(np.where(leaf, -1, tree.children_right + offset))
        defaults.append(~leaf & (np.asarray(tree.missing_go_to_left) != 0))
        # Regression trees store the (sample-weighted) mean target at every node.
        values.append(np.asarray(tree.value, dtype=np.float64)[:, 0, 0])
        offset += tree.node_count
    return TreePart(
        n_features=int(forest.n_features_in_),
        roots=np.asarray(roots, dtype=np.int32),
        feature=np.concatenate(features).astype(np.int32),
        threshold=np.concatenate(thresholds).astype(np.float32),
        left=np.concatenate(lefts).astype(np.int32),
        right=np.concatenate(rights).astype(np.int32),
        default_left=np.concatenate(defaults),
        value=np.concatenate(values),
        strict=False,
        base=0.0,
        tree_weight=1.0 / len(forest.estimators_),
    )


# -- XGBoost -------------------------------------------------------------------------------
def _base_score(text: str) -> float:
    """learner_model_param.base_score: "0.5" in XGBoost 2, "[2.092787E1]" in 3.x."""
    numbers = re.findall(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?", str(text))
    if len(numbers) != 1:
        raise ValueError(f"expected one base_score, got {text!r}")
    return float(numbers[0])


# The objectives whose predictions the export reproduces, and their links: the mean is the
# margin (squared error) or exp of it (Poisson).
LINKS = {"reg:squarederror": "identity", "count:poisson": "log"}


def boosted_from_xgboost(model: Any, *, rounds: int | None = None) -> TreePart:
    """A fitted XGBRegressor or Booster (gbtree, reg:squarederror or count:poisson) -> its
    trees (with a log link for Poisson).

    By default the export holds exactly the trees the object's own `predict` uses:
    XGBRegressor.predict stops at `best_iteration` after early stopping, whereas
    Booster.predict uses every tree (even when the booster carries a best_iteration). `rounds`
    overrides this with a number of boosting rounds.

    Internal node values are cover (sum_hessian) weighted means of the children, as XGBoost's
    own approximate contributions (`pred_contribs=True, approx_contribs=True`) use."""
    import xgboost as xgb

    if isinstance(model, xgb.XGBModel):
        booster = model.get_booster()
        if not _is_nan(model.missing):
            raise ValueError(f"expected missing=NaN, the regressor uses {model.missing!r}")
        if rounds is None:
            try:
                rounds = int(model.best_iteration) + 1  # what XGBRegressor.predict uses
            except AttributeError:
                rounds = None
    elif isinstance(model, xgb.Booster):
        booster = model
    else:
        raise ValueError(f"expected an XGBRegressor or Booster, got {type(model).__name__}")

    config = json.loads(booster.save_config())["learner"]
    booster_name = config["gradient_booster"]["name"]
    if booster_name != "gbtree":
        raise ValueError(f"expected booster='gbtree', got {booster_name!r}")
    objective = config["objective"]["name"]
    if objective not in LINKS:
        raise ValueError(f"expected objective {' or '.join(LINKS)}, got {objective!r}")
    params = config["learner_model_param"]
    if int(params.get("num_class", "0")) > 1 or int(params.get("num_target", "1")) != 1:
        raise ValueError("expected a single-target regressor")
    n_features = int(params["num_feature"])
    # base_score is on the scale of the mean: the margin starts at its link's value.
    base = _base_score(params["base_score"])
    log_link = LINKS[objective] == "log"
    if log_link:
        if base <= 0:
            raise ValueError(f"a Poisson booster's base_score must be > 0, got {base}")
        base = math.log(base)

    gbtree = json.loads(bytes(booster.save_raw("json")))["learner"]["gradient_booster"]["model"]
    trees = gbtree["trees"]
    indptr = gbtree.get("iteration_indptr")
    if not indptr:  # before XGBoost 2: one tree per parallel tree per round
        per_round = int(gbtree["gbtree_model_param"].get("num_parallel_tree", "1"))
        indptr = list(range(0, len(trees) + 1, per_round))
    n_rounds = len(indptr) - 1
    if rounds is None:
        rounds = n_rounds
    if not 0 < rounds <= n_rounds:
        raise ValueError(f"rounds must be in [1, {n_rounds}], got {rounds}")
    return _trees_part(trees[: indptr[rounds]], n_features=n_features, base=base, log_link=log_link)


def _trees_part(
    trees: list[dict[str, Any]], *, n_features: int, base: float, log_link: bool = False
) -> TreePart:
    if not trees:
        raise ValueError("the booster has no trees")
    columns: dict[str, list[npt.NDArray[Any]]] = {
        k: [] for k in ("feature", "threshold", "left", "right", "default_left", "leaf", "cover")
    }
    roots, offset = [], 0
    for tree in trees:
        if int(tree["tree_param"].get("size_leaf_vector", "1")) > 1:
            raise ValueError("multi-output trees are not supported")
        if any(tree.get("split_type", [])):
            raise ValueError("categorical splits are not supported")
        left = np.asarray(tree["left_children"], dtype=np.int64)
        right = np.asarray(tree["right_children"], dtype=np.int64)
        leaf = left == -1
        # A leaf's split_condition is its (learning-rate scaled) value; at internal nodes the
        # float32 threshold, written with enough digits to round-trip.
        condition = np.asarray(tree["split_conditions"], dtype=np.float64)
        roots.append(offset)
        columns["feature"].append(np.where(leaf, -1, np.asarray(tree["split_indices"])))
        columns["threshold"].append(np.where(leaf, 0.0, condition))
        columns["left"].append(np.where(leaf, -1, left + offset))
        columns["right"].append(np.where(leaf, -1, right + offset))
        columns["default_left"].append(~leaf & (np.asarray(tree["default_left"]) != 0))
        columns["leaf"].append(np.where(leaf, condition, 0.0))
        columns["cover"].append(np.asarray(tree["sum_hessian"], dtype=np.float64))
        offset += left.size
    flat = {k: np.concatenate(v) for k, v in columns.items()}
    root = np.asarray(roots, dtype=np.int64)
    feature, left_all, right_all, leaf_value = _prune_unreachable(
        root,
        flat["feature"].astype(np.int64),
        flat["left"].astype(np.int64),
        flat["right"].astype(np.int64),
        flat["leaf"],
    )
    return TreePart(
        n_features=n_features,
        roots=root.astype(np.int32),
        feature=feature.astype(np.int32),
        threshold=flat["threshold"].astype(np.float32),
        left=left_all.astype(np.int32),
        right=right_all.astype(np.int32),
        default_left=flat["default_left"],
        value=_cover_means(root, feature, left_all, right_all, leaf_value, flat["cover"]),
        strict=True,
        base=base,
        tree_weight=1.0,
        log_link=log_link,
    )


def _levels(
    roots: npt.NDArray[np.int64],
    feature: npt.NDArray[np.int64],
    left: npt.NDArray[np.int64],
    right: npt.NDArray[np.int64],
) -> list[npt.NDArray[np.int64]]:
    """The nodes reachable from the roots, level by level."""
    levels = []
    frontier = roots
    while frontier.size:
        levels.append(frontier)
        inner = frontier[feature[frontier] >= 0]
        frontier = np.concatenate([left[inner], right[inner]])
    return levels


def _prune_unreachable(
    roots: npt.NDArray[np.int64],
    feature: npt.NDArray[np.int64],
    left: npt.NDArray[np.int64],
    right: npt.NDArray[np.int64],
    value: FloatArray,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64], FloatArray]:
    """Deleted (pruned) nodes can linger in a saved tree; make them inert leaves."""
    reachable = np.zeros(feature.size, dtype=np.bool_)
    for level in _levels(roots, feature, left, right):
        reachable[level] = True
    if reachable.all():
        return feature, left, right, value
    gone = ~reachable
    return (
        np.where(gone, -1, feature),
        np.where(gone, -1, left),
        np.where(gone, -1, right),
        np.where(gone, 0.0, value),
    )


def _cover_means(
    roots: npt.NDArray[np.int64],
    feature: npt.NDArray[np.int64],
    left: npt.NDArray[np.int64],
    right: npt.NDArray[np.int64],
    leaf_value: FloatArray,
    cover: FloatArray,
) -> FloatArray:
    """Bottom up: an internal node's value is the cover-weighted mean of its children,
    divided by the node's own cover as XGBoost does (falling back to the children's when
    that is zero)."""
    value = leaf_value.copy()
    for level in reversed(_levels(roots, feature, left, right)):
        inner = level[feature[level] >= 0]
        lo, hi = left[inner], right[inner]
        weighted = value[lo] * cover[lo] + value[hi] * cover[hi]
        own = cover[inner]
        children = cover[lo] + cover[hi]
        value[inner] = np.where(
            own > 0,
            weighted / np.where(own > 0, own, 1.0),
            np.where(
                children > 0,
                weighted / np.where(children > 0, children, 1.0),
                (value[lo] + value[hi]) / 2,
            ),
        )
    return value
