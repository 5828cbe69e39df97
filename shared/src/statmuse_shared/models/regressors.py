"""Fitted regressors as plain numpy arrays: what the predictor and gateway serve.

The trainer fits scikit-learn and XGBoost models and converts them
(`statmuse_trainer.training.export`) into two parts that need neither library nor pickle at
serving time:

- `LinearPart`: impute, standardise, dot product (ElasticNet, Ridge).
- `TreePart`: an ensemble of binary trees in flat arrays (RandomForest, XGBoost), compiled
  to a `TreeWalk` that evaluates all rows and all trees at once, one tree level per step;
  the tree parts of a weighted ensemble merge into one walk. A part with a log link (an
  XGBoost Poisson model) predicts exp of its trees' sum and walks on its own.

Both predict from a float64 matrix (rows x features, NaN = missing), explain a prediction as a
bias plus one contribution per feature, and round-trip through `np.savez` under a key prefix,
so several parts share one bundle.

One module, over 400 lines: the two parts share the array checks and the bundle layout that
`part_from_arrays` reads back, and the trees (their layout and their walk) are most of it.
"""

from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
KIND_KEY = "kind"
# Rows x trees walked at once (times levels, for contributions). Small enough that a block's
# arrays stay in the CPU's cache and come from the allocator's free lists: with blocks of
# megabytes, a 300-row slate spent as long faulting in fresh pages as walking the trees.
_BLOCK_STATES = 1 << 15


# -- validation helpers --------------------------------------------------------------------
def _vector(name: str, value: Any, dtype: type[np.generic]) -> npt.NDArray[Any]:
    """A read-only 1-D copy of `value` as `dtype`; refuses lossy kinds (floats as indices)."""
    arr = np.asarray(value)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    kind = arr.dtype.kind
    if arr.size and dtype is np.bool_ and kind not in "bui":
        raise ValueError(f"{name} must be boolean, got dtype {arr.dtype}")
    if arr.size and dtype is np.bool_ and kind in "ui" and not np.isin(arr, (0, 1)).all():
        raise ValueError(f"{name} must hold booleans (0/1)")
    if arr.size and dtype is np.int32:
        if kind not in "ui":
            raise ValueError(f"{name} must be integer, got dtype {arr.dtype}")
        info = np.iinfo(np.int32)
        if arr.min() < info.min or arr.max() > info.max:
            raise ValueError(f"{name} does not fit in int32")
    if arr.size and dtype in (np.float32, np.float64) and kind not in "buif":
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    out = np.array(arr, dtype=dtype, copy=True)
    out.flags.writeable = False
    return out


def _finite_scalar(name: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a number, got {value!r}") from exc
    if not np.isfinite(number):
        raise ValueError(f"{name} must be finite, got {number}")
    return number


def _matrix(x: Any, n_features: int) -> FloatArray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"X must be 2-D (rows x features), got shape {arr.shape}")
    if arr.shape[1] != n_features:
        raise ValueError(f"X has {arr.shape[1]} features, the model expects {n_features}")
    return arr


def _get(arrays: Mapping[str, npt.NDArray[Any]], key: str) -> npt.NDArray[Any]:
    try:
        return np.asarray(arrays[key])
    except KeyError:
        raise ValueError(f"missing array {key!r}") from None


def _scalar(arrays: Mapping[str, npt.NDArray[Any]], key: str) -> Any:
    arr = _get(arrays, key)
    if arr.ndim != 0:
        raise ValueError(f"{key!r} must be a 0-d array, got shape {arr.shape}")
    return arr[()]


def _kind(prefix: str, arrays: Mapping[str, npt.NDArray[Any]]) -> str:
    arr = _get(arrays, f"{prefix}{KIND_KEY}")
    if arr.ndim != 0 or arr.dtype.kind != "U":
        raise ValueError(f"{prefix}{KIND_KEY} must be a 0-d unicode array")
    return str(arr[()])


def _check_kind(prefix: str, arrays: Mapping[str, npt.NDArray[Any]], expected: str) -> None:
    kind = _kind(prefix, arrays)
    if kind != expected:
        raise ValueError(f"{prefix!r} holds a {kind!r} part, not {expected!r}")


# -- linear --------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False, kw_only=True)
class LinearPart:
    """prediction = intercept + sum(coef * (x_imputed - mean) / scale), NaN -> impute."""

    KIND: ClassVar[str] = "linear"

    impute: FloatArray
    mean: FloatArray
    scale: FloatArray
    coef: FloatArray
    intercept: float

    def __post_init__(self) -> None:
        names = ("impute", "mean", "scale", "coef")
        for name in names:
            arr = _vector(name, getattr(self, name), np.float64)
            if not np.isfinite(arr).all():
                raise ValueError(f"{name} must be finite")
            object.__setattr__(self, name, arr)
        sizes = {name: getattr(self, name).size for name in names}
        if len(set(sizes.values())) != 1:
            raise ValueError(f"impute, mean, scale and coef differ in length: {sizes}")
        if (self.scale == 0).any():
            raise ValueError("scale must be non-zero")
        object.__setattr__(self, "intercept", _finite_scalar("intercept", self.intercept))

    @property
    def n_features(self) -> int:
        return int(self.coef.size)

    def _standardised(self, x: Any) -> FloatArray:
        arr = _matrix(x, self.n_features)
        filled = np.where(np.isnan(arr), self.impute, arr)
        return (filled - self.mean) / self.scale

    def predict(self, x: FloatArray) -> FloatArray:
        z: FloatArray = self._standardised(x) @ self.coef + self.intercept
        return z

    def contributions(self, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        """(bias per row, rows x features) with bias + contributions.sum(1) == predict."""
        contrib = self._standardised(x) * self.coef
        return np.full(contrib.shape[0], self.intercept), contrib

    def to_arrays(self, prefix: str) -> dict[str, npt.NDArray[Any]]:
        return {
            f"{prefix}{KIND_KEY}": np.array(self.KIND),
            f"{prefix}impute": self.impute,
            f"{prefix}mean": self.mean,
            f"{prefix}scale": self.scale,
            f"{prefix}coef": self.coef,
            f"{prefix}intercept": np.array(self.intercept, dtype=np.float64),
        }

    @classmethod
    def from_arrays(cls, prefix: str, arrays: Mapping[str, npt.NDArray[Any]]) -> "LinearPart":
        _check_kind(prefix, arrays, cls.KIND)
        return cls(
            impute=_get(arrays, f"{prefix}impute"),
            mean=_get(arrays, f"{prefix}mean"),
            scale=_get(arrays, f"{prefix}scale"),
            coef=_get(arrays, f"{prefix}coef"),
            intercept=_scalar(arrays, f"{prefix}intercept"),
        )


# -- trees ---------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class TreeWalk:
    """One or more tree ensembles rewritten for a branch-free, vectorised walk: what a
    `TreePart` compiles to (`TreePart.walk`), and what several weighted parts merge into
    (`TreeWalk.merged`), so that an ensemble of a forest and a boosted model walks its trees
    once, level by level, instead of once per part.

    prediction = base + sum over trees of the reached leaf's value (weights folded into value).

    The walk's state is 2 * node. Every internal node asks one question of a float32 value
    v = x[f] or -x[f] (column `column` of [X, -X]): is v <= threshold? A yes leads to
    child[2 * node + 1], a no to child[2 * node]. Choosing the column's sign per node makes a
    NaN (every comparison false) land on the node's default side, so no NaN test is needed.
    Leaves lead on to a "done" state that loops on itself; both carry column -1, which lets one
    `max()` tell when every walk has reached a leaf (reading column -1 wraps to a valid,
    ignored cell).
    """

    n_features: int
    max_depth: int
    base: float
    column: npt.NDArray[np.intp]  # per state: column of [X, -X], -1 at leaves
    threshold: npt.NDArray[np.float32]  # per state
    child: npt.NDArray[np.intp]  # per state + answer: next state
    split: npt.NDArray[np.intp]  # per state: the parent's split feature (0 at roots)
    delta: FloatArray  # per state: its value minus its parent's (0 at roots), for contributions
    value: FloatArray  # per state, times the tree's weight
    start: npt.NDArray[np.intp]  # per tree: 2 * root

    @property
    def n_trees(self) -> int:
        return int(self.start.size)

    @classmethod
    def merged(cls, weighted: Sequence[tuple[float, "TreeWalk"]]) -> "TreeWalk":
        """sum(weight * walk) as one walk: the states of each walk after the previous ones'."""
        if not weighted:
            raise ValueError("nothing to merge")
        widths = {w.n_features for _, w in weighted}
        if len(widths) != 1:
            raise ValueError(f"walks differ in their number of features: {sorted(widths)}")
        offsets = np.cumsum([0] + [w.value.size for _, w in weighted[:-1]])
        return cls(
            n_features=widths.pop(),
            max_depth=max(w.max_depth for _, w in weighted),
            base=float(sum(k * w.base for k, w in weighted)),
            column=np.concatenate([w.column for _, w in weighted]),
            threshold=np.concatenate([w.threshold for _, w in weighted]),
            child=np.concatenate(
                [w.child + o for (_, w), o in zip(weighted, offsets, strict=True)]
            ),
            split=np.concatenate([w.split for _, w in weighted]),
            delta=np.concatenate([k * w.delta for k, w in weighted]),
            value=np.concatenate([k * w.value for k, w in weighted]),
            start=np.concatenate(
                [w.start + o for (_, w), o in zip(weighted, offsets, strict=True)]
            ),
        )

    def _signed(self, arr: FloatArray) -> npt.NDArray[np.float32]:
        """[X, -X] as float32 (the libraries' cast), flattened row by row."""
        both = np.empty((arr.shape[0], 2 * self.n_features), dtype=np.float32)
        both[:, : self.n_features] = arr
        np.negative(both[:, : self.n_features], out=both[:, self.n_features :])
        return both.reshape(-1)

    def _blocks(self, x: Any, levels: int = 1) -> Iterator[FloatArray]:
        """Row blocks of at most _BLOCK_STATES (rows x trees x `levels`) states."""
        arr = _matrix(x, self.n_features)
        step = max(1, _BLOCK_STATES // max(self.n_trees * levels, 1))
        for start in range(0, max(arr.shape[0], 1), step):
            yield arr[start : start + step]

    def _states(self, block: FloatArray) -> Iterator[npt.NDArray[np.intp]]:
        """Every row down every tree at once: the states (rows x trees), roots first, then
        one level per step until every walk sits on a leaf."""
        rows = block.shape[0]
        flat = self._signed(block)
        state = np.broadcast_to(self.start, (rows, self.n_trees))
        yield state
        if state.size == 0:
            return
        # Each row's cells start 2 * n_features further on; one row (a single prediction, the
        # common case) skips the addition.
        offset = (np.arange(rows, dtype=np.intp) * (2 * self.n_features))[:, None]
        column, threshold, child = self.column, self.threshold, self.child
        for _ in range(self.max_depth):
            at = column[state]
            if at.max() < 0:
                return
            value = flat[at + offset] if rows > 1 else flat[at]
            state = child[state + (value <= threshold[state])]
            yield state

    def predict(self, x: FloatArray) -> FloatArray:
        out = []
        for block in self._blocks(x):
            leaves = deque(self._states(block), maxlen=1)[0]  # keep only the last level
            out.append(self.base + self.value[leaves].sum(axis=1))
        return np.concatenate(out)

    def contributions(self, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Saabas contributions: each step down a tree adds the change in node value to the
        split's feature; bias = base + the sum of the roots' values."""
        nf = self.n_features
        out = []
        for block in self._blocks(x, levels=self.max_depth):
            rows = block.shape[0]
            # Every level at once (levels x rows x trees): the per-level numpy calls are most
            # of a single row's cost, so the (feature slot, change in node value) pairs are
            # computed and summed in a few calls on the stacked states.
            below_roots = list(self._states(block))[1:]
            contrib: FloatArray = np.zeros(rows * nf, dtype=np.float64)
            if below_roots:
                levels = np.stack(below_roots)
                slots = (np.arange(rows, dtype=np.intp) * nf)[None, :, None] + self.split[levels]
                contrib = np.bincount(
                    slots.ravel(), weights=self.delta[levels].ravel(), minlength=rows * nf
                ).astype(np.float64, copy=False)
            out.append(contrib.reshape(rows, nf))
        contributions = np.concatenate(out)
        bias = self.base + float(self.value[self.start].sum())
        return np.full(contributions.shape[0], bias), contributions


@dataclass(frozen=True, eq=False, kw_only=True)
class TreePart:
    """A tree ensemble: base + tree_weight * sum over trees of the reached leaf's value (the
    margin), or with `log_link` exp(margin), the mean of a Poisson-objective booster.

    Nodes of all trees sit in flat arrays; `roots` holds each tree's root index. At a leaf
    `feature` is -1 and `left`/`right` are -1. An internal node sends x left when
    x < threshold (`strict`, XGBoost) or x <= threshold (scikit-learn), compared in float32 as
    both libraries do, and sends NaN to `default_left`; a threshold may be +-inf (scikit-learn
    splits off the missing values with +inf), never NaN. `value` is the leaf value at leaves
    and, at internal nodes, the weighted mean of the leaves below (for contributions).
    `max_depth` (the most levels any tree has below its root) is set on construction.
    A log-link part is stored under its own kind, so that a reader that knows only the
    identity link refuses it instead of serving its margin as a mean.
    """

    KIND: ClassVar[str] = "trees"
    LOG_KIND: ClassVar[str] = "log_link_trees"

    n_features: int
    roots: npt.NDArray[np.int32]
    feature: npt.NDArray[np.int32]
    threshold: npt.NDArray[np.float32]
    left: npt.NDArray[np.int32]
    right: npt.NDArray[np.int32]
    default_left: npt.NDArray[np.bool_]
    value: FloatArray
    strict: bool
    base: float = 0.0
    tree_weight: float = 1.0
    log_link: bool = False
    max_depth: int = field(init=False)
    walk: TreeWalk = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.n_features, bool) or not isinstance(self.n_features, int | np.integer):
            raise ValueError(f"n_features must be an integer, got {self.n_features!r}")
        if self.n_features < 0:
            raise ValueError(f"n_features must be >= 0, got {self.n_features}")
        object.__setattr__(self, "n_features", int(self.n_features))
        if not isinstance(self.strict, bool | np.bool_):
            raise ValueError(f"strict must be a bool, got {self.strict!r}")
        object.__setattr__(self, "strict", bool(self.strict))
        if not isinstance(self.log_link, bool | np.bool_):
            raise ValueError(f"log_link must be a bool, got {self.log_link!r}")
        object.__setattr__(self, "log_link", bool(self.log_link))
        object.__setattr__(self, "base", _finite_scalar("base", self.base))
        object.__setattr__(self, "tree_weight", _finite_scalar("tree_weight", self.tree_weight))
        for name, dtype in (
            ("roots", np.int32),
            ("feature", np.int32),
            ("threshold", np.float32),
            ("left", np.int32),
            ("right", np.int32),
            ("default_left", np.bool_),
            ("value", np.float64),
        ):
            object.__setattr__(self, name, _vector(name, getattr(self, name), dtype))
        self._validate_nodes()
        depth = self._max_depth()
        object.__setattr__(self, "max_depth", depth)
        object.__setattr__(self, "walk", self._compile())

    @property
    def n_trees(self) -> int:
        return int(self.roots.size)

    @property
    def n_nodes(self) -> int:
        return int(self.feature.size)

    def _validate_nodes(self) -> None:
        n = self.n_nodes
        sizes = {
            name: getattr(self, name).size
            for name in ("feature", "threshold", "left", "right", "default_left", "value")
        }
        if len(set(sizes.values())) != 1:
            raise ValueError(f"node arrays differ in length: {sizes}")
        if ((self.roots < 0) | (self.roots >= n)).any():
            raise ValueError(f"roots must index the {n} nodes")
        leaf = self.feature == -1
        inner = ~leaf
        if (self.feature < -1).any() or (self.feature >= self.n_features).any():
            raise ValueError(f"feature must be -1 (leaf) or in [0, {self.n_features})")
        for name in ("left", "right"):
            child = getattr(self, name)
            if (child[leaf] != -1).any():
                raise ValueError(f"{name} must be -1 at leaves")
            if ((child[inner] < 0) | (child[inner] >= n)).any():
                raise ValueError(f"{name} must index the {n} nodes at internal nodes")
        if np.isnan(self.threshold[inner]).any():
            raise ValueError("threshold must not be NaN at internal nodes")
        if not np.isfinite(self.value).all():
            raise ValueError("value must be finite")

    def _max_depth(self) -> int:
        """Levels below the roots; refuses shared nodes and cycles (not a forest)."""
        seen = np.zeros(self.n_nodes, dtype=np.int64)
        frontier = self.roots.astype(np.intp)
        depth = 0
        while True:
            np.add.at(seen, frontier, 1)
            if (seen[frontier] > 1).any():
                raise ValueError("nodes are shared between or within trees: not a forest")
            frontier = frontier[self.feature[frontier] >= 0]
            if frontier.size == 0:
                return depth
            frontier = np.concatenate([self.left[frontier], self.right[frontier]]).astype(np.intp)
            depth += 1

    def _compile(self) -> TreeWalk:
        n, nf = self.n_nodes, self.n_features
        inner = self.feature >= 0
        lowest, highest = np.float32(-np.inf), np.float32(np.inf)
        t = self.threshold
        # Left iff x <= le for non-NaN float32 x: the non-strict form of every split.
        with np.errstate(over="ignore"):  # nextafter from the largest float32 is infinity
            le = np.nextafter(t, lowest) if self.strict else t
            asked_flipped = np.nextafter(-le, lowest)
        never_left = (t == lowest) if self.strict else np.zeros(n, dtype=np.bool_)
        never_right = le == highest  # scikit-learn's "only NaN goes right" split
        # Default right: ask "x <= le", yes = left. Default left: ask "-x <= -le - ulp",
        # i.e. "x > le", yes = right. NaN answers no either way: the default side.
        flip = self.default_left
        asked = np.where(never_left, highest, asked_flipped)
        threshold = np.where(flip, asked, le).astype(np.float32)
        column = np.where(flip, self.feature + nf, self.feature).astype(np.intp)
        nodes = np.arange(n, dtype=np.intp)
        left = np.where(inner, self.left, nodes).astype(np.intp)
        right = np.where(inner, self.right, nodes).astype(np.intp)
        yes = np.where(flip, right, left)
        no = np.where(flip, left, right)
        # Splits no threshold can ask (only -inf or only +inf on one side): every non-NaN
        # value goes the same way.
        yes = np.where(never_left & ~flip, right, yes)
        yes = np.where(never_right & flip, left, yes)
        # A leaf leads on to a "done" node of its own (n + its rank among the leaves), which
        # loops on itself: a walk's arrival at a leaf is the one step that counts towards the
        # contributions, the later ones (waiting for the deepest tree) add nothing.
        leaf = ~inner
        done = np.full(n, -1, dtype=np.intp)
        done[leaf] = n + np.arange(int(leaf.sum()), dtype=np.intp)
        yes = np.concatenate([np.where(inner, yes, done), done[leaf]])
        no = np.concatenate([np.where(inner, no, done), done[leaf]])
        value = self.tree_weight * np.concatenate([self.value, self.value[leaf]])
        # Each node's parent's split feature and the change in value on the way down from it
        # (0 at roots and done nodes), for Saabas contributions.
        parent = np.full(n, -1, dtype=np.intp)
        parent[self.left[inner]] = nodes[inner]
        parent[self.right[inner]] = nodes[inner]
        has_parent = parent >= 0
        split = np.where(has_parent, self.feature[parent], 0).astype(np.intp)
        delta = np.where(has_parent, value[:n] - value[parent], 0.0)
        extra = np.zeros(int(leaf.sum()))
        # Per state (2 * node) + answer (0 no, 1 yes): the next state.
        per_state = np.empty(2 * no.size, dtype=np.intp)
        per_state[0::2] = 2 * no
        per_state[1::2] = 2 * yes
        return TreeWalk(
            n_features=nf,
            max_depth=self.max_depth,
            base=self.base,
            column=np.repeat(np.concatenate([np.where(inner, column, -1), extra - 1]), 2).astype(
                np.intp
            ),
            threshold=np.repeat(np.concatenate([threshold, extra]), 2).astype(np.float32),
            child=per_state,
            split=np.repeat(np.concatenate([split, extra]).astype(np.intp), 2),
            delta=np.repeat(np.concatenate([delta, extra]), 2),
            value=np.repeat(value, 2),
            start=2 * self.roots.astype(np.intp),
        )

    def predict(self, x: FloatArray) -> FloatArray:
        margin = self.walk.predict(x)
        return np.exp(margin) if self.log_link else margin

    def contributions(self, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Saabas contributions (`TreeWalk.contributions`); bias = base + tree_weight * the
        sum of the roots' values. With the log link they are taken on the margin and carried
        to the mean in proportion: bias = exp(margin bias) and the contributions, scaled by one
        factor per row, add up to exp(margin) - bias, so bias + their sum is the prediction."""
        bias, contributions = self.walk.contributions(x)
        if not self.log_link:
            return bias, contributions
        step = contributions.sum(axis=1)
        # (exp(bias + step) - exp(bias)) / step, which is exp(bias) as the step goes to 0
        safe = np.where(step == 0.0, 1.0, step)
        factor = np.exp(bias) * np.where(step == 0.0, 1.0, np.expm1(step) / safe)
        return np.exp(bias), contributions * factor[:, None]

    def to_arrays(self, prefix: str) -> dict[str, npt.NDArray[Any]]:
        return {
            f"{prefix}{KIND_KEY}": np.array(self.LOG_KIND if self.log_link else self.KIND),
            f"{prefix}n_features": np.array(self.n_features, dtype=np.int64),
            f"{prefix}roots": self.roots,
            f"{prefix}feature": self.feature,
            f"{prefix}threshold": self.threshold,
            f"{prefix}left": self.left,
            f"{prefix}right": self.right,
            f"{prefix}default_left": self.default_left,
            f"{prefix}value": self.value,
            f"{prefix}strict": np.array(self.strict, dtype=np.bool_),
            f"{prefix}base": np.array(self.base, dtype=np.float64),
            f"{prefix}tree_weight": np.array(self.tree_weight, dtype=np.float64),
        }

    @classmethod
    def from_arrays(cls, prefix: str, arrays: Mapping[str, npt.NDArray[Any]]) -> "TreePart":
        log_link = _kind(prefix, arrays) == cls.LOG_KIND
        _check_kind(prefix, arrays, cls.LOG_KIND if log_link else cls.KIND)
        n_features = _scalar(arrays, f"{prefix}n_features")
        strict = _scalar(arrays, f"{prefix}strict")
        if not isinstance(n_features, np.integer):
            raise ValueError(f"{prefix}n_features must be an integer")
        if not isinstance(strict, np.bool_):
            raise ValueError(f"{prefix}strict must be a bool")
        return cls(
            n_features=int(n_features),
            roots=_get(arrays, f"{prefix}roots"),
            feature=_get(arrays, f"{prefix}feature"),
            threshold=_get(arrays, f"{prefix}threshold"),
            left=_get(arrays, f"{prefix}left"),
            right=_get(arrays, f"{prefix}right"),
            default_left=_get(arrays, f"{prefix}default_left"),
            value=_get(arrays, f"{prefix}value"),
            strict=bool(strict),
            base=_scalar(arrays, f"{prefix}base"),
            tree_weight=_scalar(arrays, f"{prefix}tree_weight"),
            log_link=log_link,
        )


def part_from_arrays(prefix: str, arrays: Mapping[str, npt.NDArray[Any]]) -> LinearPart | TreePart:
    """The part stored under `prefix`, whichever kind it is."""
    kind = _kind(prefix, arrays)
    if kind == LinearPart.KIND:
        return LinearPart.from_arrays(prefix, arrays)
    if kind in (TreePart.KIND, TreePart.LOG_KIND):
        return TreePart.from_arrays(prefix, arrays)
    raise ValueError(f"unknown part kind {kind!r} under {prefix!r}")
