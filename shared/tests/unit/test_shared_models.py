from collections.abc import Callable

import pytest

from statmuse_shared.models.artifacts import load_model
from statmuse_shared.models.baseline import RollingMeanArtifact, RollingMeanModel
from statmuse_shared.models.distributions import DiscretizedNormal, Poisson
from statmuse_shared.models.output import ModelInputError

Make = Callable[..., RollingMeanArtifact]


def test_enough_games_uses_the_rolling_mean(points_artifact: Make) -> None:
    model = RollingMeanModel(points_artifact())
    out = model.predict(
        {
            "points_sma_10": 25.4,
            "points_n_10": 10.0,
            "points_season_avg": 22.0,
        }
    )
    assert out.fallback is None
    assert out.distribution == DiscretizedNormal(25.4, 6.0)
    assert [(c.feature, c.value, c.contribution) for c in out.contributions] == [
        ("points_sma_10", 25.4, 25.4)
    ]


def test_min_games_not_met_falls_back_to_season_avg(points_artifact: Make) -> None:
    out = RollingMeanModel(points_artifact(min_games=5)).predict(
        {
            "points_sma_10": 30.0,
            "points_n_10": 4.0,
            "points_season_avg": 22.0,
        }
    )
    assert out.fallback == "season_mean"
    assert out.distribution.mean == 22.0
    assert out.contributions[0].feature == "points_season_avg"


def test_exactly_min_games_uses_the_rolling_mean(points_artifact: Make) -> None:
    out = RollingMeanModel(points_artifact(min_games=5)).predict(
        {
            "points_sma_10": 30.0,
            "points_n_10": 5.0,
            "points_season_avg": 22.0,
        }
    )
    assert (out.fallback, out.distribution.mean) == (None, 30.0)


def test_missing_rolling_mean_falls_back_to_season_avg(points_artifact: Make) -> None:
    out = RollingMeanModel(points_artifact()).predict(
        {
            "points_sma_10": None,
            "points_n_10": 10.0,
            "points_season_avg": 18.5,
        }
    )
    assert (out.fallback, out.distribution.mean) == ("season_mean", 18.5)


@pytest.mark.parametrize(
    "features",
    [
        {},
        {
            "points_sma_10": None,
            "points_n_10": 0.0,
            "points_season_avg": None,
        },
        {"points_sma_10": 30.0, "points_n_10": 2.0},
        {"points_n_10": 1.0, "points_season_avg": float("nan")},
    ],
)
def test_nothing_usable_falls_back_to_league_mean(
    points_artifact: Make, features: dict[str, float | None]
) -> None:
    out = RollingMeanModel(points_artifact(league_mean=11.0)).predict(features)
    assert out.fallback == "league_mean"
    assert out.distribution.mean == 11.0
    assert out.contributions[0].feature == "league_mean"


def test_centre_has_a_small_positive_floor(points_artifact: Make) -> None:
    out = RollingMeanModel(points_artifact(family="poisson")).predict(
        {"points_sma_10": 0.0, "points_n_10": 10.0}
    )
    assert out.distribution == Poisson(0.05)


def test_poisson_family(points_artifact: Make) -> None:
    out = RollingMeanModel(points_artifact(family="poisson")).predict(
        {"points_sma_10": 2.4, "points_n_10": 10.0}
    )
    assert out.distribution == Poisson(2.4)


def test_load_model_round_trips_an_artifact(points_artifact: Make) -> None:
    artifact = points_artifact(residual_sd=7.25)
    model = load_model(artifact.model_dump_json().encode())
    assert isinstance(model, RollingMeanModel)
    assert model.artifact == artifact
    assert model.stat == artifact.stat


def test_load_model_refuses_garbage() -> None:
    with pytest.raises(ModelInputError, match="not JSON"):
        load_model(b"not json")
    with pytest.raises(ModelInputError, match="unknown model_type 'xgboost'"):
        load_model(b'{"model_type": "xgboost"}')


@pytest.mark.parametrize("data", [b"[1, 2]", b'"rolling_mean"', b"\x00not json"])
def test_load_model_refuses_unreadable_artifacts_with_model_input_error(data: bytes) -> None:
    with pytest.raises(ModelInputError):
        load_model(data)
