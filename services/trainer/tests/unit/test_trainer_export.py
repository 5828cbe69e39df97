"""Exported parts predict what the fitted scikit-learn / XGBoost models predict (to 1e-5),
including NaN routing and values exactly at split thresholds, and survive an npz round trip."""

import io

import numpy as np
import pytest
import xgboost as xgb
from sklearn.ensemble import RandomForestRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import ElasticNet, LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from statmuse_shared.models.regressors import LinearPart, TreePart, part_from_arrays
from statmuse_trainer.training import export

ROWS, FEATURES = 2000, 20
F32 = np.float32


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(42)
    x = rng.normal(size=(ROWS, FEATURES))
    z = x.copy()
    x[rng.random(x.shape) < 0.1] = np.nan
    y = 20 + 3 * z[:, 0] + z[:, 1] ** 2 - 2 * z[:, 2] * z[:, 3] + np.sin(3 * z[:, 4])
    y += np.where(np.isnan(x[:, 5]), 4.0, 0.0) + rng.normal(size=ROWS)  # missingness matters
    return x, y


@pytest.fixture(scope="module")
def forest(data: tuple[np.ndarray, np.ndarray]) -> RandomForestRegressor:
    x, y = data
    rf = RandomForestRegressor(n_estimators=25, min_samples_leaf=3, random_state=7, n_jobs=1)
    return rf.fit(x, y)


@pytest.fixture(scope="module")
def booster(data: tuple[np.ndarray, np.ndarray]) -> xgb.XGBRegressor:
    x, y = data
    return early_stopped(x, y)


def early_stopped(x: np.ndarray, y: np.ndarray, **objective: str) -> xgb.XGBRegressor:
    """A booster fitted on the first 1500 rows, stopped early on the rest."""
    model = xgb.XGBRegressor(
        n_estimators=400,
        learning_rate=0.15,
        max_depth=4,
        early_stopping_rounds=10,
        tree_method="hist",
        n_jobs=1,
        random_state=7,
        **objective,
    )
    return model.fit(x[:1500], y[:1500], eval_set=[(x[1500:], y[1500:])], verbose=False)


def at_thresholds(part: TreePart, n: int, seed: int = 0) -> np.ndarray:
    """Rows whose values sit exactly on the part's float32 thresholds or one ulp away."""
    rng = np.random.default_rng(seed)
    x = np.full((n, part.n_features), np.nan)
    for f in range(part.n_features):
        t = part.threshold[(part.feature == f) & np.isfinite(part.threshold)]
        if t.size:
            near = np.concatenate([t, np.nextafter(t, F32(np.inf)), np.nextafter(t, F32(-np.inf))])
            x[:, f] = rng.choice(near.astype(np.float64), size=n)
    x[rng.random(x.shape) < 0.05] = np.nan
    return x


def through_npz(part: LinearPart | TreePart) -> LinearPart | TreePart:
    buf = io.BytesIO()
    np.savez(buf, **part.to_arrays("m_"))
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as z:
        return part_from_arrays("m_", {k: z[k] for k in z.files})


def assert_contributions_add_up(part: LinearPart | TreePart, x: np.ndarray) -> None:
    bias, contrib = part.contributions(x)
    np.testing.assert_allclose(bias + contrib.sum(axis=1), part.predict(x), rtol=1e-9)


# -- linear --------------------------------------------------------------------------------
def elasticnet_pipeline(**imputer: bool) -> Pipeline:
    return Pipeline(
        [
            ("impute", SimpleImputer(strategy="median", **imputer)),
            ("scale", StandardScaler()),
            ("model", ElasticNet(alpha=0.05, l1_ratio=0.5)),
        ]
    )


def test_elasticnet_pipeline_matches_sklearn(data: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = data
    pipe = elasticnet_pipeline().fit(x, y)
    part = export.linear_from_pipeline(pipe)
    np.testing.assert_allclose(part.predict(x), pipe.predict(x), rtol=1e-5)
    assert_contributions_add_up(part, x)
    np.testing.assert_array_equal(through_npz(part).predict(x), part.predict(x))


@pytest.mark.filterwarnings("ignore:Skipping features without any observed values")
@pytest.mark.parametrize("keep_empty_features", [False, True])
def test_all_missing_training_feature_still_takes_its_column(
    data: tuple[np.ndarray, np.ndarray], keep_empty_features: bool
) -> None:
    x, y = data
    x = x.copy()
    x[:, 3] = np.nan
    pipe = elasticnet_pipeline(keep_empty_features=keep_empty_features).fit(x, y)
    part = export.linear_from_pipeline(pipe)
    assert part.n_features == FEATURES
    assert part.coef[3] == 0.0
    np.testing.assert_allclose(part.predict(x), pipe.predict(x), rtol=1e-5)


def test_linear_from_sklearn_takes_the_callers_standardisation(
    data: tuple[np.ndarray, np.ndarray],
) -> None:
    x, y = data
    impute = np.nanmean(x, axis=0)
    filled = np.where(np.isnan(x), impute, x)
    mean, scale = filled.mean(axis=0), filled.std(axis=0)
    ridge = Ridge(alpha=1.0).fit((filled - mean) / scale, y)
    part = export.linear_from_sklearn(ridge, impute=impute, mean=mean, scale=scale)
    np.testing.assert_allclose(part.predict(x), ridge.predict((filled - mean) / scale), rtol=1e-9)


def test_linear_exporters_refuse_other_models(data: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = data
    classifier = LogisticRegression().fit(np.nan_to_num(x), y > 20)
    with pytest.raises(ValueError, match="linear regressor"):
        export.linear_from_sklearn(classifier, impute=[0.0], mean=[0.0], scale=[1.0])
    with pytest.raises(ValueError, match="Pipeline"):
        export.linear_from_pipeline(Pipeline([("model", Ridge())]))


# -- random forest -------------------------------------------------------------------------
def test_forest_matches_sklearn(
    data: tuple[np.ndarray, np.ndarray], forest: RandomForestRegressor
) -> None:
    x, _ = data
    part = export.forest_from_sklearn(forest)
    assert part.n_trees == 25
    assert part.strict is False
    np.testing.assert_allclose(part.predict(x), forest.predict(x), rtol=1e-5)
    edges = at_thresholds(part, 500)
    np.testing.assert_allclose(part.predict(edges), forest.predict(edges), rtol=1e-5)
    assert_contributions_add_up(part, x)
    np.testing.assert_array_equal(through_npz(part).predict(x), part.predict(x))


def test_forest_fitted_without_nan_routes_nan_like_sklearn(
    data: tuple[np.ndarray, np.ndarray],
) -> None:
    x, y = data
    rf = RandomForestRegressor(n_estimators=5, max_depth=6, random_state=1, n_jobs=1)
    rf.fit(np.nan_to_num(x), y)
    part = export.forest_from_sklearn(rf)
    np.testing.assert_allclose(part.predict(x), rf.predict(x), rtol=1e-5)


def test_forest_threshold_rounds_down_to_float32() -> None:
    # sklearn splits at the float64 midpoint of two float32 values and compares float32 x
    # with it; rounding that midpoint to the nearest float32 can land on the upper value.
    # (Around 2 one ulp exceeds sklearn's 1e-7 tie tolerance, so the two values do split.)
    low = np.nextafter(F32(2.0), F32(3.0))
    high = np.nextafter(low, F32(3.0))
    x = np.array([[low], [high]] * 5, dtype=np.float64)
    y = np.array([0.0, 1.0] * 5)
    rf = RandomForestRegressor(n_estimators=1, bootstrap=False, random_state=0).fit(x, y)
    assert F32(rf.estimators_[0].tree_.threshold[0]) == high  # the naive cast is wrong
    part = export.forest_from_sklearn(rf)
    np.testing.assert_array_equal(part.predict(x[:2]), rf.predict(x[:2]))
    np.testing.assert_array_equal(part.predict(x[:2]), [0.0, 1.0])


# -- XGBoost -------------------------------------------------------------------------------
def test_early_stopped_xgboost_matches_predict(
    data: tuple[np.ndarray, np.ndarray], booster: xgb.XGBRegressor
) -> None:
    x, _ = data
    used = booster.best_iteration + 1
    assert used < booster.get_booster().num_boosted_rounds()  # early stopping did stop
    part = export.boosted_from_xgboost(booster)
    assert part.n_trees == used
    assert part.strict is True
    np.testing.assert_allclose(part.predict(x), booster.predict(x), rtol=1e-5)
    edges = at_thresholds(part, 500)
    np.testing.assert_allclose(part.predict(edges), booster.predict(edges), rtol=1e-5)
    assert_contributions_add_up(part, x)
    np.testing.assert_array_equal(through_npz(part).predict(x), part.predict(x))


def test_xgboost_contributions_match_approx_contribs(
    data: tuple[np.ndarray, np.ndarray], booster: xgb.XGBRegressor
) -> None:
    x, _ = data
    part = export.boosted_from_xgboost(booster)
    expected = booster.get_booster().predict(
        xgb.DMatrix(x),
        pred_contribs=True,
        approx_contribs=True,
        iteration_range=(0, booster.best_iteration + 1),
    )
    bias, contrib = part.contributions(x)
    np.testing.assert_allclose(contrib, expected[:, :-1], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(bias, expected[:, -1], rtol=1e-4, atol=1e-4)


def test_a_bare_booster_exports_every_tree_like_booster_predict(
    data: tuple[np.ndarray, np.ndarray], booster: xgb.XGBRegressor
) -> None:
    x, _ = data
    bare = booster.get_booster()
    part = export.boosted_from_xgboost(bare)
    assert part.n_trees == bare.num_boosted_rounds()
    np.testing.assert_allclose(part.predict(x), bare.predict(xgb.DMatrix(x)), rtol=1e-5)
    best = export.boosted_from_xgboost(bare, rounds=booster.best_iteration + 1)
    np.testing.assert_allclose(best.predict(x), booster.predict(x), rtol=1e-5)
    with pytest.raises(ValueError, match="rounds must be"):
        export.boosted_from_xgboost(bare, rounds=bare.num_boosted_rounds() + 1)


@pytest.fixture(scope="module")
def poisson_booster(data: tuple[np.ndarray, np.ndarray]) -> xgb.XGBRegressor:
    """A Poisson booster on counts whose mean depends on the features and on missingness."""
    x, _ = data
    z = np.nan_to_num(x)
    rng = np.random.default_rng(3)
    y = rng.poisson(np.exp(1.5 + 0.4 * z[:, 0] - 0.3 * z[:, 1] + 0.5 * np.isnan(x[:, 5])))
    return early_stopped(x, y, objective="count:poisson", eval_metric="poisson-nloglik")


def test_a_poisson_booster_exports_with_a_log_link(
    data: tuple[np.ndarray, np.ndarray], poisson_booster: xgb.XGBRegressor
) -> None:
    """base_score is a mean (its log starts the margin); the part predicts exp(margin)."""
    x, _ = data
    part = export.boosted_from_xgboost(poisson_booster)
    assert part.log_link is True
    assert part.n_trees == poisson_booster.best_iteration + 1
    np.testing.assert_allclose(part.predict(x), poisson_booster.predict(x), rtol=1e-5)
    margin = poisson_booster.predict(x, output_margin=True)
    np.testing.assert_allclose(part.walk.predict(x), margin, rtol=1e-5, atol=1e-6)
    edges = at_thresholds(part, 500)
    np.testing.assert_allclose(part.predict(edges), poisson_booster.predict(edges), rtol=1e-5)
    assert_contributions_add_up(part, x)
    loaded = through_npz(part)
    assert isinstance(loaded, TreePart)
    assert loaded.log_link is True
    np.testing.assert_array_equal(loaded.predict(x), part.predict(x))


def test_log_link_contributions_keep_the_margins_signs_and_shares(
    data: tuple[np.ndarray, np.ndarray], poisson_booster: xgb.XGBRegressor
) -> None:
    """On the mean's scale each row's contributions are its margin contributions times one
    positive factor, and the bias is exp of the margin's bias."""
    x, _ = data
    part = export.boosted_from_xgboost(poisson_booster)
    margin_bias, margin_contrib = part.walk.contributions(x)
    bias, contrib = part.contributions(x)
    np.testing.assert_allclose(bias, np.exp(margin_bias))
    factor = contrib.sum(axis=1) / margin_contrib.sum(axis=1)
    assert (factor > 0).all()
    np.testing.assert_allclose(contrib, margin_contrib * factor[:, None], rtol=1e-9, atol=1e-12)


def test_xgboost_other_objectives_are_refused(data: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = data
    gamma = xgb.XGBRegressor(n_estimators=2, objective="reg:gamma", n_jobs=1).fit(x, y)
    with pytest.raises(ValueError, match="reg:squarederror or count:poisson"):
        export.boosted_from_xgboost(gamma)
    with pytest.raises(ValueError, match="XGBRegressor or Booster"):
        export.boosted_from_xgboost(Ridge())


@pytest.mark.parametrize(
    ("text", "value"),
    [("[2.092787E1]", 20.92787), ("0.5", 0.5), ("[-1.5e-3]", -0.0015), ("[3]", 3.0)],
)
def test_base_score_parses_both_formats(text: str, value: float) -> None:
    assert export._base_score(text) == pytest.approx(value)


def test_base_score_with_several_targets_is_refused() -> None:
    with pytest.raises(ValueError, match="one base_score"):
        export._base_score("[1E0,2E0]")
