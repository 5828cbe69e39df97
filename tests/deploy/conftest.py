"""Static checks of the deployment files: no Docker engine or cluster needed.

The checks live in `deploylib.py` as functions that return a list of problems, so each test
asserts "no problems" on the real files and, separately, that a broken copy (a removed
healthcheck, a misspelt setting, a wrong consumer group) is caught.
"""

import sys
from pathlib import Path
from typing import Any

import pytest

# Tests run with --import-mode=importlib, which puts no test folder on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent))

import deploylib  # noqa: E402


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    return deploylib.load_compose()


@pytest.fixture(scope="session")
def k8s() -> list[dict[str, Any]]:
    return deploylib.load_k8s()


@pytest.fixture(scope="session")
def alerts() -> dict[str, Any]:
    return deploylib.load_yaml(deploylib.ROOT / "deploy/prometheus/alerts.yml")
