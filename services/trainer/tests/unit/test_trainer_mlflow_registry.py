"""The MLflow registry adapter's pure parts: the registered model of a serving key, the run's
parameters and metrics from a version's metadata, and a readiness ping that fails fast."""

import socket

import pytest

from statmuse_trainer.adapters.mlflow_registry import (
    MlflowRegistry,
    registered_name,
    run_metrics,
    run_params,
)


def test_a_serving_key_is_one_registered_model():
    assert registered_name("points") == "statmuse-points"
    assert registered_name("points:2544") == "statmuse-points-2544"


def test_the_run_logs_metrics_by_split_and_every_candidate():
    metadata = {
        "dataset_version": "abc",
        "chosen": "voting",
        "parts": ["random_forest", "xgboost"],
        "weights": [0.4, 0.6],
        "metrics": {"mae": 4.4, "brier": 0.231, "n_train": 1000, "n_validation": 200},
        "candidates": {"xgboost": {"brier": 0.232, "mae": 4.5}},
        "params": {"xgboost": {"max_depth": 4}},
        "heads": {"kept": 6, "tried": 351},
        "training_window": {"first": "2017-10-17", "last": "2022-04-10"},
    }
    assert run_metrics(metadata) == {
        "train.n": 1000.0,
        "validation.n": 200.0,
        "validation.mae": 4.4,
        "validation.brier": 0.231,
        "candidate.xgboost.brier": 0.232,
        "candidate.xgboost.mae": 4.5,
    }
    params = run_params(metadata)
    assert params["chosen"] == "voting"
    assert params["weights"] == "0.4,0.6"
    assert params["params.xgboost.max_depth"] == "4"
    assert params["heads.kept"] == "6"
    assert params["training_window.last"] == "2022-04-10"


@pytest.mark.timeout(15)  # MLflow's own client would retry for minutes
async def test_the_ping_of_a_server_that_is_not_there_fails_at_once():
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    registry = MlflowRegistry(db=None, tracking_uri=f"http://127.0.0.1:{port}")  # type: ignore[arg-type]
    assert await registry.ping() is False
