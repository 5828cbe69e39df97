"""Grafana dashboards and the runbooks: the structure Grafana needs, every metric a panel names
registered by the code (or the lag exporter's), so a misspelt metric fails here instead of
silently showing nothing; promtool, where installed, parses the PromQL too. The alert rules'
tests are in test_alerts.py."""

import copy
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from deploylib.monitoring import (
    dashboard_problems,
    dashboards,
    panel_exprs,
)
from deploylib.runbooks import RUNBOOKS, runbook_problems


def test_dashboards() -> None:
    assert dashboard_problems(dashboards()) == []


def test_runbooks_name_real_commands_and_sections() -> None:
    files = sorted(RUNBOOKS.glob("*.md"))
    assert {"README.md", "retraining.md", "incidents.md", "scaling.md", "api-keys.md"} <= {
        f.name for f in files
    }
    assert "backup-restore.md" in (RUNBOOKS / "README.md").read_text()
    assert runbook_problems(files) == []


def test_a_broken_dashboard_is_caught() -> None:
    boards = copy.deepcopy(dashboards())
    board = boards["api-latency.json"]
    board["panels"][0]["targets"][0]["expr"] = "rate(statmuse_gateway_request_second_bucket[5m])"
    assert dashboard_problems(boards)
    boards = copy.deepcopy(dashboards())
    boards["api-latency.json"]["panels"][0]["targets"][0]["datasource"]["uid"] = "prom"
    assert dashboard_problems(boards)


PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed")


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=60)


@needs_promtool
def test_promtool_parses_every_dashboard_query(tmp_path: Path) -> None:
    rules = []
    for file, board in dashboards().items():
        for i, (_, _, expr) in enumerate(panel_exprs(board)):
            expr = expr.replace("$__rate_interval", "5m")
            name = re.sub(r"\W", "_", f"dashboard:{file}:{i}")
            rules.append({"record": name, "expr": expr})
    (tmp_path / "queries.yml").write_text(
        yaml.safe_dump({"groups": [{"name": "q", "rules": rules}]})
    )
    result = _promtool("check", "rules", str(tmp_path / "queries.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
