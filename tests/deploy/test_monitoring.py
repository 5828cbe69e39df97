"""Alert rules and Grafana dashboards: the structure Prometheus and Grafana need, every issue-8
alert present, and every metric they name registered by the code (or the lag exporter's), so a
misspelt metric fails here instead of silently never firing. promtool, where installed, parses
the PromQL too."""

import copy
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploylib.common import ROOT
from deploylib.monitoring import (
    alert_problems,
    dashboard_problems,
    dashboards,
    metric_names,
    panel_exprs,
)
from deploylib.runbooks import RUNBOOKS, runbook_problems


def test_alert_rules(alerts: dict[str, Any]) -> None:
    assert alert_problems(alerts) == []


def test_dashboards() -> None:
    assert dashboard_problems(dashboards()) == []


def test_runbooks_name_real_commands_and_sections() -> None:
    files = sorted(RUNBOOKS.glob("*.md"))
    assert {"README.md", "retraining.md", "incidents.md", "scaling.md", "api-keys.md"} <= {
        f.name for f in files
    }
    assert "backup-restore.md" in (RUNBOOKS / "README.md").read_text()
    assert runbook_problems(files) == []


def test_metric_names_are_read_from_promql() -> None:
    expr = (
        'sum by (consumergroup) (deriv(kafka_consumergroup_lag{consumergroup!~"x-(a|b)"}[15m]))'
        ' > 0 and on () (month() >= 10) or up{job="a"} == 0'
    )
    assert metric_names(expr) == {"kafka_consumergroup_lag", "up"}


def _rule(alerts: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for g in alerts["groups"] for r in g["rules"] if r.get("alert") == name)


# The checks can fail: each broken copy of the real rules is caught.
@pytest.mark.parametrize(
    ("alert", "key", "value"),
    [
        ("HitRateLow", "expr", "statmuse_monitor_hit_rate_7days < 0.60"),  # typo: unknown metric
        ("HitRateLow", "expr", "statmuse_monitor_hit_rate_7d < 0.50"),  # not the 60% asked for
        (
            "SourceFailuresHigh",
            "expr",
            'sum(rate(statmuse_ingestor_source_requests_total{outcome="failed"}[1d])) > 0.05',
        ),
        ("GatewayErrorRateHigh", "labels", {}),  # no severity
        ("ConsumerLagGrowing", "annotations", {"runbook": "docs/runbooks/scaling.md#consumer-lag"}),
        (
            "ServiceDown",
            "annotations",
            {"summary": "x", "runbook": "docs/runbooks/scaling.md#nowhere"},
        ),
        ("MissingDataHigh", "for", None),
    ],
)
def test_a_broken_rule_is_caught(alerts: dict[str, Any], alert: str, key: str, value: Any) -> None:
    broken = copy.deepcopy(alerts)
    rule = _rule(broken, alert)
    if value is None:
        del rule[key]
    else:
        rule[key] = value
    assert alert_problems(broken)


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
def test_promtool_accepts_the_rules() -> None:
    result = _promtool("check", "rules", str(ROOT / "deploy/prometheus/alerts.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_promtool_accepts_the_config(tmp_path: Path) -> None:
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    shutil.copy(ROOT / "deploy/prometheus/alerts.yml", tmp_path / "alerts.yml")
    config["rule_files"] = [str(tmp_path / Path(r).name) for r in config["rule_files"]]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    result = _promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


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
