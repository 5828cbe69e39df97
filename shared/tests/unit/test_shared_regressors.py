"""The numpy-only regressor runtime: hand-built trees with known answers, a brute-force walker
for random forests (NaN, infinities, values exactly at thresholds), and the npz round trip."""

import dataclasses
import io
import math
from typing import Any

import numpy as np
import pytest

from statmuse_shared.models import regressors
from statmuse_shared.models.count import CountModel, CountModelHeader
from statmuse_shared.models.regressors import LinearPart, TreePart, part_from_arrays

F32 = np.float32
NAN = math.nan


def small_tree(*, strict: bool, base: float = 0.0, tree_weight: float = 1.0) -> TreePart:
    """x0 < (or <=) 1 -> 10 (NaN: left); else x1 < (or <=) 0.1 -> 20, else 30 (NaN: right).

    Node order is scrambled on purpose: children are absolute indices, not heap positions.
    Internal values: node 4 = (20 * 1 + 30 * 3) / 4 = 27.5, root = (10 * 4 + 27.5 * 4) / 8."""
    return TreePart(
        n_features=3,
        roots=[2],
        feature=[-1, -1, 0, -1, 1],
        threshold=[0.0, 0.0, 1.0, 0.0, 0.1],
        left=[-1, -1, 3, -1, 0],
        right=[-1, -1, 4, -1, 1],
        default_left=[False, False, True, False, False],
        value=[20.0, 30.0, 18.75, 10.0, 27.5],
        strict=strict,
        base=base,
        tree_weight=tree_weight,
    )


def rows(*values: tuple[float, float]) -> np.ndarray:
    return np.array([[a, b, 0.0] for a, b in values], dtype=np.float64)


def test_small_tree_routes_by_threshold_and_nan() -> None:
    x = rows((0.0, 5.0), (2.0, 0.0), (2.0, 5.0), (NAN, 5.0), (2.0, NAN), (NAN, NAN))
    np.testing.assert_array_equal(small_tree(strict=True).predict(x), [10, 20, 30, 10, 30, 10])
    np.testing.assert_array_equal(small_tree(strict=False).predict(x), [10, 20, 30, 10, 30, 10])


def test_strict_goes_right_at_the_threshold_non_strict_goes_left() -> None:
    x = rows((1.0, 5.0), (2.0, 0.1))
    np.testing.assert_array_equal(small_tree(strict=True).predict(x), [30, 30])
    np.testing.assert_array_equal(small_tree(strict=False).predict(x), [10, 20])


def test_comparison_is_in_float32() -> None:
    # 0.1 + 1e-12 differs from 0.1 in float64 but both are float32(0.1), the threshold.
    assert F32(0.1 + 1e-12) == F32(0.1)
    x = rows((2.0, 0.1 + 1e-12), (2.0, float(np.nextafter(F32(0.1), F32(0)))))
    np.testing.assert_array_equal(small_tree(strict=True).predict(x), [30, 20])
    np.testing.assert_array_equal(small_tree(strict=False).predict(x), [20, 20])


def test_infinities_are_ordinary_values() -> None:
    x = rows((-math.inf, 5.0), (math.inf, -math.inf), (math.inf, math.inf))
    np.testing.assert_array_equal(small_tree(strict=True).predict(x), [10, 20, 30])


def test_base_and_tree_weight() -> None:
    part = small_tree(strict=True, base=1.5, tree_weight=0.5)
    np.testing.assert_array_equal(part.predict(rows((0.0, 0.0), (2.0, 5.0))), [6.5, 16.5])


def test_small_tree_contributions_follow_the_path() -> None:
    part = small_tree(strict=True, base=1.0, tree_weight=2.0)
    bias, contrib = part.contributions(rows((2.0, 5.0), (0.0, 5.0), (NAN, NAN)))
    np.testing.assert_array_equal(bias, [1.0 + 2 * 18.75] * 3)
    # root 18.75 -> node 27.5 (x0: +8.75) -> leaf 30 (x1: +2.5), times tree_weight 2
    np.testing.assert_array_equal(contrib[0], [17.5, 5.0, 0.0])
    np.testing.assert_array_equal(contrib[1], [-17.5, 0.0, 0.0])
    np.testing.assert_array_equal(contrib[2], [-17.5, 0.0, 0.0])


def test_a_log_link_predicts_exp_of_the_margin_and_explains_the_mean() -> None:
    """The margin is the identity part's answer; the mean is exp of it, and the contributions
    (the margin's path, carried to the mean by one factor per row) add up to it."""
    identity = small_tree(strict=True, base=-3.0, tree_weight=0.1)
    log_link = dataclasses.replace(identity, log_link=True)
    x = rows((2.0, 5.0), (0.0, 5.0), (2.0, 0.0))
    margin = identity.predict(x)
    np.testing.assert_allclose(margin, [0.0, -2.0, -1.0])
    np.testing.assert_allclose(log_link.predict(x), np.exp(margin))
    bias, contrib = log_link.contributions(x)
    np.testing.assert_allclose(bias, np.exp(-3.0 + 1.875))
    np.testing.assert_allclose(bias + contrib.sum(axis=1), np.exp(margin), rtol=1e-12)
    # row 0 went up through x0 (+0.875) and x1 (+0.25): shares 7 to 2 on either scale
    assert contrib[0, 0] == pytest.approx(3.5 * contrib[0, 1])
    assert contrib[1, 0] < 0
    assert contrib[1, 1] == 0.0


def test_a_log_link_row_that_stays_at_the_bias_gets_zero_contributions() -> None:
    part = lone_leaf(0.5, strict=True, log_link=True)
    bias, contrib = part.contributions(np.zeros((2, 2)))
    np.testing.assert_allclose(bias, [math.exp(1.5)] * 2)
    np.testing.assert_array_equal(contrib, np.zeros((2, 2)))
    np.testing.assert_allclose(part.predict(np.zeros((1, 2))), [math.exp(1.5)])


def lone_leaf(value: float, *, strict: bool, log_link: bool = False) -> TreePart:
    """One tree of one leaf (`value`) on two features, base 1."""
    return TreePart(
        n_features=2,
        roots=[0],
        feature=[-1],
        threshold=[0.0],
        left=[-1],
        right=[-1],
        default_left=[False],
        value=[value],
        strict=strict,
        base=1.0,
        log_link=log_link,
    )


def test_a_lone_leaf_and_no_rows() -> None:
    part = lone_leaf(4.0, strict=False)
    assert part.max_depth == 0
    np.testing.assert_array_equal(part.predict(np.zeros((2, 2))), [5.0, 5.0])
    assert part.predict(np.zeros((0, 2))).shape == (0,)
    bias, contrib = part.contributions(np.zeros((0, 2)))
    assert bias.shape == (0,)
    assert contrib.shape == (0, 2)


# -- random ensembles against a brute-force walker -----------------------------------------
SPECIAL = np.array(
    [-1.0, -0.5, 0.0, 0.1, 0.5, 1.0, 3.4028234663852886e38, -3.4028234663852886e38],
    dtype=np.float32,
)


def random_ensemble(rng: np.random.Generator, *, strict: bool, n_features: int) -> TreePart:
    feature: list[int] = []
    threshold: list[float] = []
    left: list[int] = []
    right: list[int] = []
    default_left: list[bool] = []
    value: list[float] = []

    def grow(depth: int) -> int:
        node = len(feature)
        feature.append(-1)
        threshold.append(0.0)
        left.append(-1)
        right.append(-1)
        default_left.append(bool(rng.random() < 0.5))
        value.append(float(rng.normal()))
        if depth < 6 and rng.random() < 0.75:
            t = rng.choice(SPECIAL) if rng.random() < 0.8 else rng.choice([-np.inf, np.inf])
            feature[node] = int(rng.integers(n_features))
            threshold[node] = float(t)
            left[node] = grow(depth + 1)
            right[node] = grow(depth + 1)
        return node

    roots = [grow(0) for _ in range(int(rng.integers(1, 8)))]
    # Scramble the node order so nothing relies on trees being laid out in order.
    order = rng.permutation(len(feature))
    new = np.empty_like(order)
    new[order] = np.arange(order.size)

    def move(children: list[int]) -> np.ndarray:
        arr = np.asarray(children)
        return np.where(arr < 0, -1, new[np.maximum(arr, 0)])[order]

    return TreePart(
        n_features=n_features,
        roots=new[roots],
        feature=np.asarray(feature)[order],
        threshold=np.asarray(threshold)[order],
        left=move(left),
        right=move(right),
        default_left=np.asarray(default_left)[order],
        value=np.asarray(value)[order],
        strict=strict,
        base=float(rng.normal()),
        tree_weight=float(rng.uniform(0.1, 1.0)),
    )


def random_rows(rng: np.random.Generator, n: int, n_features: int) -> np.ndarray:
    with np.errstate(over="ignore"):
        up, down = np.nextafter(SPECIAL, F32(np.inf)), np.nextafter(SPECIAL, F32(-np.inf))
    odd = np.array([np.nan, np.inf, -np.inf], dtype=np.float32)
    near = np.concatenate([SPECIAL, up, down, odd]).astype(np.float64)
    x = rng.choice(near, size=(n, n_features))
    noise = rng.random(x.shape) < 0.2
    x[noise] = rng.normal(size=int(noise.sum()))
    return x


def walk(part: TreePart, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One row, one tree, one node at a time, as the libraries do it."""
    pred = np.empty(len(x))
    bias = np.empty(len(x))
    contrib = np.zeros(x.shape)
    for i, row in enumerate(x.astype(np.float32)):
        total, start = 0.0, 0.0
        for root in part.roots:
            node = int(root)
            start += part.value[node]
            while part.feature[node] >= 0:
                f = int(part.feature[node])
                v, t = row[f], part.threshold[node]
                if np.isnan(v):
                    go_left = bool(part.default_left[node])
                else:
                    go_left = bool(v < t) if part.strict else bool(v <= t)
                nxt = int(part.left[node] if go_left else part.right[node])
                contrib[i, f] += part.tree_weight * (part.value[nxt] - part.value[node])
                node = nxt
            total += part.value[node]
        pred[i] = part.base + part.tree_weight * total
        bias[i] = part.base + part.tree_weight * start
    return pred, bias, contrib


@pytest.mark.parametrize("strict", [True, False])
@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_random_ensembles_match_a_brute_force_walk(seed: int, strict: bool) -> None:
    rng = np.random.default_rng(seed)
    part = random_ensemble(rng, strict=strict, n_features=4)
    x = random_rows(rng, 200, 4)
    pred, bias, contrib = walk(part, x)
    np.testing.assert_allclose(part.predict(x), pred, rtol=1e-12, atol=1e-12)
    got_bias, got_contrib = part.contributions(x)
    np.testing.assert_allclose(got_bias, bias, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got_contrib, contrib, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got_bias + got_contrib.sum(axis=1), pred, rtol=1e-9, atol=1e-12)
    # One row at a time gives the same answers as the batch.
    np.testing.assert_allclose(part.predict(x[:1]), pred[:1], rtol=1e-12, atol=1e-12)


def test_big_batches_are_walked_in_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(11)
    part = random_ensemble(rng, strict=False, n_features=4)
    x = random_rows(rng, 101, 4)
    pred, (bias, contrib) = part.predict(x), part.contributions(x)
    # 2 rows a block; 1 for contributions, whose blocks count every level
    monkeypatch.setattr(regressors, "_BLOCK_STATES", 2 * part.n_trees + 1)
    np.testing.assert_array_equal(part.predict(x), pred)
    np.testing.assert_array_equal(part.contributions(x)[0], bias)
    np.testing.assert_array_equal(part.contributions(x)[1], contrib)


@pytest.mark.parametrize("seed", [21, 22, 23])
def test_a_merged_walk_is_the_weighted_sum_of_its_parts(seed: int) -> None:
    """A boosted (strict) and a forest-like (non-strict) part of different depths, merged with
    weights as a served ensemble merges them: predictions, bias and contributions are the
    weighted sums of each part's brute-force walk, a row at a time as in a batch."""
    rng = np.random.default_rng(seed)
    boosted = random_ensemble(rng, strict=True, n_features=4)
    forest = random_ensemble(rng, strict=False, n_features=4)
    merged = regressors.TreeWalk.merged([(0.7, boosted.walk), (-0.3, forest.walk)])
    assert merged.n_trees == boosted.n_trees + forest.n_trees
    assert merged.max_depth == max(boosted.max_depth, forest.max_depth)
    x = random_rows(rng, 150, 4)
    (pred_a, bias_a, contrib_a), (pred_b, bias_b, contrib_b) = walk(boosted, x), walk(forest, x)
    np.testing.assert_allclose(merged.predict(x), 0.7 * pred_a - 0.3 * pred_b, rtol=1e-12)
    bias, contrib = merged.contributions(x)
    np.testing.assert_allclose(bias, 0.7 * bias_a - 0.3 * bias_b, rtol=1e-12)
    np.testing.assert_allclose(contrib, 0.7 * contrib_a - 0.3 * contrib_b, rtol=1e-9, atol=1e-12)
    assert merged.predict(x[:0]).shape == (0,)  # no rows: empty answers, no error
    assert merged.contributions(x[:0])[1].shape == (0, 4)
    for i in (0, 7, 149):  # one row alone (no per-row offsets) gives the batch's answer
        np.testing.assert_allclose(merged.predict(x[i : i + 1]), merged.predict(x)[i : i + 1])
        np.testing.assert_allclose(merged.contributions(x[i : i + 1])[1][0], contrib[i])


def test_merging_refuses_nothing_and_walks_of_different_widths() -> None:
    with pytest.raises(ValueError, match="nothing to merge"):
        regressors.TreeWalk.merged([])
    rng = np.random.default_rng(3)
    narrow = random_ensemble(rng, strict=True, n_features=3)
    wide = random_ensemble(rng, strict=True, n_features=4)
    with pytest.raises(ValueError, match="differ in their number of features"):
        regressors.TreeWalk.merged([(1.0, narrow.walk), (1.0, wide.walk)])


def count_model(
    parts: list[TreePart | LinearPart],
    names: list[str],
    weights: list[float],
    *,
    intercept: float = 0.0,
) -> CountModel:
    """A count model over four features (a, b, c, d) serving `parts` with `weights`."""
    arrays: dict[str, Any] = {}
    for i, part in enumerate(parts):
        arrays.update(part.to_arrays(f"p{i}_"))
    header = CountModelHeader(
        stat="points",
        name="points-voting",
        feature_set_version="fs-test",
        features=["a", "b", "c", "d"],
        parts=[f"p{i}_" for i in range(len(parts))],
        part_names=names,
        weights=weights,
        intercept=intercept,
        dispersion=1.5,
        history_feature="a",
        centre_feature="b",
        min_history=0,
        league_rate_per_minute=0.5,
        league_minutes_features=["c"],
        league_default_minutes=20.0,
        league_dispersion=1.5,
        calibrated=False,
    )
    return CountModel(header, arrays)


def test_a_count_model_serves_its_tree_parts_merged_and_its_linear_parts_alone() -> None:
    """The served ensemble (a boosted part, a forest, a linear part, weights as a stacking
    fits them) gives the weighted sum of its parts, mean and contributions alike."""
    rng = np.random.default_rng(5)
    boosted = random_ensemble(rng, strict=True, n_features=4)
    forest = random_ensemble(rng, strict=False, n_features=4)
    lin = LinearPart(
        impute=[0.0] * 4, mean=[0.1] * 4, scale=[2.0] * 4, coef=[0.5, -1.0, 0.0, 2.0], intercept=3
    )
    parts, weights = [boosted, lin, forest], [0.6, 0.25, -0.2]
    model = count_model(parts, ["xgboost", "elasticnet", "random_forest"], weights, intercept=0.5)
    x = random_rows(rng, 120, 4)
    x = np.where(np.isinf(x), 1.0, x)  # finite inputs for the linear part
    expected = 0.5 + sum(w * p.predict(x) for w, p in zip(weights, parts, strict=True))
    np.testing.assert_allclose(model.pooled_mean(x), expected, rtol=1e-9, atol=1e-9)
    mean, total = model.pooled(x)
    np.testing.assert_allclose(mean, expected, rtol=1e-9, atol=1e-9)
    by_part = sum(w * p.contributions(x)[1] for w, p in zip(weights, parts, strict=True))
    np.testing.assert_allclose(total, by_part, rtol=1e-9, atol=1e-9)


def test_a_count_model_adds_a_log_link_part_on_the_means_scale() -> None:
    """A Poisson booster beside a forest: exp of its margin enters the weighted sum (not
    merged into the forest's walk), and so do its contributions."""
    rng = np.random.default_rng(9)
    margin = dataclasses.replace(
        random_ensemble(rng, strict=True, n_features=4), base=2.0, tree_weight=0.05
    )
    boosted = dataclasses.replace(margin, log_link=True)
    forest = random_ensemble(rng, strict=False, n_features=4)
    parts, weights = [boosted, forest], [0.7, 0.3]
    model = count_model(parts, ["xgboost", "random_forest"], weights)
    x = random_rows(rng, 80, 4)
    expected = 0.7 * np.exp(margin.predict(x)) + 0.3 * forest.predict(x)
    np.testing.assert_allclose(model.pooled_mean(x), expected, rtol=1e-9)
    mean, total = model.pooled(x)
    np.testing.assert_allclose(mean, expected, rtol=1e-9)
    by_part = sum(w * p.contributions(x)[1] for w, p in zip(weights, parts, strict=True))
    np.testing.assert_allclose(total, by_part, rtol=1e-9, atol=1e-12)


# -- linear --------------------------------------------------------------------------------
def linear() -> LinearPart:
    return LinearPart(
        impute=[1.0, 2.0], mean=[0.5, 1.0], scale=[2.0, 4.0], coef=[3.0, -1.0], intercept=10.0
    )


def test_linear_predict_and_contributions_by_hand() -> None:
    part = linear()
    x = np.array([[2.5, 5.0], [NAN, NAN], [0.5, NAN]])
    # (2.5-0.5)/2*3 = 3, (5-1)/4*-1 = -1; impute (1, 2): 0.75, -0.25; 0, -0.25
    np.testing.assert_allclose(part.predict(x), [12.0, 10.5, 9.75])
    bias, contrib = part.contributions(x)
    np.testing.assert_array_equal(bias, [10.0, 10.0, 10.0])
    np.testing.assert_allclose(contrib, [[3.0, -1.0], [0.75, -0.25], [0.0, -0.25]])
    assert part.n_features == 2


# -- serialisation -------------------------------------------------------------------------
def through_npz(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def test_parts_round_trip_through_one_npz_without_pickle() -> None:
    rng = np.random.default_rng(7)
    trees = random_ensemble(rng, strict=True, n_features=4)
    head = LinearPart(
        impute=np.zeros(4),
        mean=np.ones(4),
        scale=np.full(4, 2.0),
        coef=rng.normal(size=4),
        intercept=0.5,
    )
    arrays = through_npz({**trees.to_arrays("p0_"), **head.to_arrays("p1_")})
    assert arrays["p0_kind"].dtype.kind == "U"
    assert arrays["p0_kind"].ndim == 0
    loaded_trees, loaded_head = part_from_arrays("p0_", arrays), part_from_arrays("p1_", arrays)
    assert isinstance(loaded_trees, TreePart)
    assert isinstance(loaded_head, LinearPart)
    x = random_rows(rng, 50, 4)
    np.testing.assert_array_equal(loaded_trees.predict(x), trees.predict(x))
    np.testing.assert_array_equal(loaded_trees.contributions(x)[1], trees.contributions(x)[1])
    x = rng.normal(size=(50, 4))
    x[rng.random(x.shape) < 0.2] = np.nan
    np.testing.assert_array_equal(loaded_head.predict(x), head.predict(x))
    assert loaded_trees.strict is True
    assert loaded_trees.max_depth == trees.max_depth
    assert loaded_head.intercept == 0.5


def test_loading_checks_the_kind() -> None:
    arrays = small_tree(strict=True).to_arrays("a_")
    with pytest.raises(ValueError, match="not 'linear'"):
        LinearPart.from_arrays("a_", arrays)
    with pytest.raises(ValueError, match="missing array 'b_kind'"):
        part_from_arrays("b_", arrays)
    with pytest.raises(ValueError, match="unknown part kind 'forest'"):
        part_from_arrays("a_", {**arrays, "a_kind": np.array("forest")})
    with pytest.raises(ValueError, match="missing array 'a_value'"):
        TreePart.from_arrays("a_", {k: v for k, v in arrays.items() if k != "a_value"})
    with pytest.raises(ValueError, match="0-d"):
        TreePart.from_arrays("a_", {**arrays, "a_base": np.zeros(2)})


def test_a_log_link_is_stored_under_its_own_kind() -> None:
    """A reader that knew only the identity link must refuse a log-link part, not serve its
    margin as a mean; this one reads it back with its link."""
    part = dataclasses.replace(small_tree(strict=True), log_link=True)
    arrays = part.to_arrays("a_")
    assert str(arrays["a_kind"]) == "log_link_trees" != TreePart.KIND
    loaded = part_from_arrays("a_", arrays)
    assert isinstance(loaded, TreePart)
    assert loaded.log_link is True
    assert part_from_arrays("a_", small_tree(strict=True).to_arrays("a_")).log_link is False
    with pytest.raises(ValueError, match="not 'linear'"):
        LinearPart.from_arrays("a_", arrays)


# -- validation ----------------------------------------------------------------------------
def tree_fields(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "n_features": 2,
        "roots": [0],
        "feature": [0, -1, -1],
        "threshold": [0.5, 0.0, 0.0],
        "left": [1, -1, -1],
        "right": [2, -1, -1],
        "default_left": [True, False, False],
        "value": [1.0, 0.0, 2.0],
        "strict": True,
    }
    fields.update(overrides)
    return fields


def test_tree_fields_are_valid_as_given() -> None:
    part = TreePart(**tree_fields())
    np.testing.assert_array_equal(part.predict(np.array([[0.0, 0.0], [1.0, 0.0]])), [0.0, 2.0])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"feature": [2, -1, -1]}, "feature must be -1"),
        ({"feature": [-3, -1, -1]}, "feature must be -1"),
        ({"left": [3, -1, -1]}, "left must index"),
        ({"right": [-1, -1, -1]}, "right must index"),
        ({"left": [1, 2, -1]}, "left must be -1 at leaves"),
        ({"value": [1.0, 0.0]}, "differ in length"),
        ({"threshold": [0.5, 0.0]}, "differ in length"),
        ({"roots": [3]}, "roots must index"),
        ({"roots": [0, 1]}, "not a forest"),
        ({"left": [0, -1, -1]}, "not a forest"),
        ({"threshold": [NAN, 0.0, 0.0]}, "threshold must not be NaN"),
        ({"value": [1.0, math.inf, 2.0]}, "value must be finite"),
        ({"feature": [0.0, -1.0, -1.0]}, "feature must be integer"),
        ({"default_left": [2, 0, 0]}, "booleans"),
        ({"roots": [[0]]}, "roots must be 1-D"),
        ({"n_features": -1}, "n_features must be >= 0"),
        ({"n_features": 2.0}, "n_features must be an integer"),
        ({"strict": 1}, "strict must be a bool"),
        ({"base": math.nan}, "base must be finite"),
        ({"tree_weight": "heavy"}, "tree_weight must be a number"),
    ],
)
def test_invalid_trees_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TreePart(**tree_fields(**overrides))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"coef": [1.0]}, "differ in length"),
        ({"scale": [1.0, 0.0]}, "scale must be non-zero"),
        ({"mean": [NAN, 0.0]}, "mean must be finite"),
        ({"intercept": math.inf}, "intercept must be finite"),
        ({"impute": np.zeros((2, 1))}, "impute must be 1-D"),
    ],
)
def test_invalid_linear_parts_are_refused(overrides: dict[str, Any], message: str) -> None:
    fields: dict[str, Any] = {
        "impute": [0.0, 0.0],
        "mean": [0.0, 0.0],
        "scale": [1.0, 1.0],
        "coef": [1.0, 2.0],
        "intercept": 0.0,
    }
    fields.update(overrides)
    with pytest.raises(ValueError, match=message):
        LinearPart(**fields)


@pytest.mark.parametrize("part", [small_tree(strict=True), linear()], ids=["trees", "linear"])
def test_inputs_of_the_wrong_shape_are_refused(part: TreePart | LinearPart) -> None:
    with pytest.raises(ValueError, match="the model expects"):
        part.predict(np.zeros((1, part.n_features + 1)))
    with pytest.raises(ValueError, match="2-D"):
        part.contributions(np.zeros(part.n_features))


def test_loaded_arrays_are_validated_too() -> None:
    arrays = small_tree(strict=True).to_arrays("a_")
    bad = {**arrays, "a_left": np.array([-1, -1, 3, -1, 9], dtype=np.int32)}
    with pytest.raises(ValueError, match="left must index"):
        part_from_arrays("a_", through_npz(bad))
