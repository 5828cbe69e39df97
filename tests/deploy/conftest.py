"""Static checks of the deployment files: no Docker engine or cluster needed.

The checks live in the `deploylib` package as functions that return a list of problems, so each
test asserts "no problems" on the real files and, separately, that a broken copy (a removed
healthcheck, a misspelt setting, a wrong consumer group) is caught.
"""

import sys
from pathlib import Path
from typing import Any

import pytest

# Tests run with --import-mode=importlib, which puts no test folder on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from deploylib.common import ROOT, load_yaml  # noqa: E402
from deploylib.compose import load_compose  # noqa: E402
from deploylib.k8s import load_k8s  # noqa: E402


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    return load_compose()


@pytest.fixture(scope="session")
def k8s() -> list[dict[str, Any]]:
    return load_k8s()


@pytest.fixture(scope="session")
def alerts() -> dict[str, Any]:
    return load_yaml(ROOT / "deploy/prometheus/alerts.yml")
