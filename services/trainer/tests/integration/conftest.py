"""Every trainer integration test gets a model registry of its own: a fresh MLflow store,
in the environment the trainer's settings read (the root conftest's `mlflow_tracking_uri`).
The round trip through a real `mlflow server` asks for `mlflow_server` instead."""

import pytest


@pytest.fixture(autouse=True)
def _own_mlflow(mlflow_tracking_uri: str) -> str:
    return mlflow_tracking_uri
