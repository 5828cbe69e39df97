import math

import pytest

from statmuse_shared.contract.stats import Stat
from statmuse_trainer.training.baseline import Example, NotEnoughData, fit_rolling_mean


def example(centre: float | None, games: float, label: float, prefix: str = "points") -> Example:
    return Example(
        features={f"{prefix}_sma_10": centre, f"{prefix}_n_10": games},
        label=label,
    )


def test_residual_rmse_and_mae_hand_checked() -> None:
    # centre 10: fifteen labels of 13 (error +3) and fifteen of 6 (error -4)
    usable = [example(10.0, 10, 13.0) for _ in range(15)] + [
        example(10.0, 10, 6.0) for _ in range(15)
    ]
    # below min_games or no centre: not usable for the residuals, still in the league mean
    unusable = [example(10.0, 4, 20.0) for _ in range(3)] + [
        example(None, 10, 20.0) for _ in range(2)
    ]
    fitted = fit_rolling_mean(
        Stat.POINTS, usable + unusable, min_games=5, feature_set_version="fs-0.1"
    )
    assert fitted.metrics["rmse"] == pytest.approx(math.sqrt((15 * 9 + 15 * 16) / 30))  # 3.5355
    assert fitted.metrics["mae"] == pytest.approx(3.5)
    assert fitted.metrics["n_train"] == 30.0
    a = fitted.artifact
    assert a.residual_sd == pytest.approx(math.sqrt(12.5))
    assert a.league_mean == pytest.approx((15 * 13 + 15 * 6 + 5 * 20) / 35)  # 11.0
    assert (a.feature, a.fallback_feature, a.window_count_feature) == (
        "points_sma_10",
        "points_season_avg",
        "points_n_10",
    )
    assert (a.min_games, a.family, a.stat, a.feature_set_version) == (
        5,
        "normal",
        Stat.POINTS,
        "fs-0.1",
    )


def test_mixed_errors_hand_checked() -> None:
    # errors cycle through -2, 0, +1, +5, eight times (32 usable examples)
    labels = [8.0, 10.0, 11.0, 15.0] * 8
    fitted = fit_rolling_mean(
        Stat.REBOUNDS,
        [example(10.0, 10, y, "rebounds") for y in labels],
        min_games=1,
        feature_set_version="fs-0.1",
    )
    assert fitted.metrics["mae"] == pytest.approx((2 + 0 + 1 + 5) / 4)
    assert fitted.metrics["rmse"] == pytest.approx(math.sqrt((4 + 0 + 1 + 25) / 4))
    assert fitted.artifact.feature == "rebounds_sma_10"


def test_spread_has_a_floor() -> None:
    fitted = fit_rolling_mean(
        Stat.ASSISTS,
        [example(4.0, 10, 4.0, "assists")] * 30,
        min_games=5,
        feature_set_version="fs-0.1",
    )
    assert fitted.metrics["rmse"] == 0.0
    assert fitted.artifact.residual_sd == 0.5


def test_not_enough_usable_examples() -> None:
    examples = (
        [example(10.0, 10, 12.0)] * 29
        + [example(10.0, 2, 12.0)] * 100
        + [example(None, 10, 12.0)] * 10
    )
    with pytest.raises(NotEnoughData, match="29 usable examples, need at least 30"):
        fit_rolling_mean(Stat.POINTS, examples, min_games=5, feature_set_version="fs-0.1")
    # one more usable example is enough
    fitted = fit_rolling_mean(
        Stat.POINTS, [*examples, example(10.0, 5, 12.0)], min_games=5, feature_set_version="fs-0.1"
    )
    assert fitted.metrics["n_train"] == 30.0
