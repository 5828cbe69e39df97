"""Alerts, end to end without a server: the rules' structure and metrics, promtool's parse and
unit tests (every rule fires on a bad series and stays quiet on a normal one), Alertmanager's
config (amtool) and routing (each severity to its receiver), the webhook URL put in at start in
compose, and the Kubernetes copy of both generated from them. Each check is shown to fail on a
broken copy.

promtool and amtool are Debian's (`prometheus`, `prometheus-alertmanager`; .ci/run installs them).
Without them the tests that run them skip, except under CI, where they fail."""

import copy
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploylib.alerting import (
    ALERTMANAGER,
    ALERTS,
    ALERTS_TESTS,
    RECEIVERS,
    WEBHOOK_PLACEHOLDER,
    alertmanager_problems,
    compose_entrypoint_script,
    k8s_alerting_problems,
)
from deploylib.common import ROOT, load_yaml
from deploylib.monitoring import alert_problems, metric_names

PROMTOOL = shutil.which("promtool")
AMTOOL = shutil.which("amtool")
# CI installs both: there a missing binary is a failure, not a skip.
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None and not os.environ.get("CI"), reason="promtool is not installed"
)
needs_amtool = pytest.mark.skipif(
    AMTOOL is None and not os.environ.get("CI"), reason="amtool is not installed"
)


def _run(tool: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    assert tool is not None, "promtool/amtool missing (apt-get install prometheus-alertmanager)"
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=120)


def _rule(alerts: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for g in alerts["groups"] for r in g["rules"] if r.get("alert") == name)


# --------------------------------------------------------------------------- rules, statically


def test_alert_rules(alerts: dict[str, Any]) -> None:
    assert alert_problems(alerts) == []


def test_metric_names_are_read_from_promql() -> None:
    expr = (
        'sum by (consumergroup) (deriv(kafka_consumergroup_lag{consumergroup!~"x-(a|b)"}[15m]))'
        ' > 0 and on () (month() >= 10) or up{job="a"} == 0'
    )
    assert metric_names(expr) == {"kafka_consumergroup_lag", "up"}


# The checks can fail: each broken copy of the real rules is caught.
@pytest.mark.parametrize(
    ("alert", "key", "value"),
    [
        ("HitRateLow", "expr", "statmuse_monitor_hit_rate_7days < 0.5238"),  # typo: unknown metric
        ("HitRateLow", "expr", "statmuse_monitor_hit_rate_7d < 0.60"),  # not break-even, no sample
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


def test_every_rule_is_unit_tested_both_ways(alerts: dict[str, Any]) -> None:
    """Each alert has a promtool case where it fires and one where it must not."""
    fires: set[str] = set()
    quiet: set[str] = set()
    for path in ALERTS_TESTS:
        for case in load_yaml(path)["tests"]:
            for check in case.get("alert_rule_test", []):
                (fires if check.get("exp_alerts") else quiet).add(check["alertname"])
            # A case whose inputs include a series the alert must ignore counts as quiet too:
            # the firing check lists the alerts exactly, so any extra one fails it.
            names = {c["alertname"] for c in case.get("alert_rule_test", [])}
            if len(case.get("input_series", [])) > 1 or len(case.get("alert_rule_test", [])) > 1:
                quiet |= names
    rules = {r["alert"] for g in alerts["groups"] for r in g["rules"]}
    assert rules - fires == set(), "never shown to fire"
    assert rules - quiet == set(), "never shown to stay quiet"


# --------------------------------------------------------------------------- promtool


@needs_promtool
def test_promtool_accepts_the_rules() -> None:
    result = _run(PROMTOOL, "check", "rules", str(ALERTS))
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_promtool_accepts_the_config(tmp_path: Path) -> None:
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    shutil.copy(ALERTS, tmp_path / "alerts.yml")
    config["rule_files"] = [str(tmp_path / Path(r).name) for r in config["rule_files"]]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    result = _run(PROMTOOL, "check", "config", str(tmp_path / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    targets = [s for a in config["alerting"]["alertmanagers"] for s in a["static_configs"]]
    assert {"targets": ["alertmanager:9093"]} in targets


@needs_promtool
def test_every_rule_fires_on_bad_series_and_stays_quiet_on_normal_ones() -> None:
    result = _run(PROMTOOL, "test", "rules", *map(str, ALERTS_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def _unit_test(tmp_path: Path, alerts_text: str, tests: Path) -> subprocess.CompletedProcess[str]:
    (tmp_path / "alerts.yml").write_text(alerts_text)
    shutil.copy(tests, tmp_path / tests.name)
    return _run(PROMTOOL, "test", "rules", str(tmp_path / tests.name))


@needs_promtool
@pytest.mark.parametrize(
    ("old", "new"),
    [
        # HitRateLow back at 60%: fires on the normal weeks of the tests.
        ("< 0.5238 - 1.645", "< 0.60 - 0 * 1.645"),
        # CalibrationDrift without its sample size: fires on 150 bets.
        ("and on (stat, job, instance) statmuse_monitor_bets_7d >= 300", ""),
        # GatewayErrorRateHigh without its floor: pages on one stray 500.
        ('and sum(rate(statmuse_gateway_requests_total{status=~"5.."}[5m])) >= 1 / 60', ""),
        # ServiceDown waiting 10 minutes instead of 2.
        ("        for: 2m", "        for: 10m"),
        # GameDataStale through June (the season's file, evaluated hourly, has that case).
        ("day_of_year() <= 152", "day_of_year() <= 181"),
        # SourceFailuresHigh without its volume floor: fires on a daily run's retried timeout.
        ("and sum by (job) (increase(statmuse_ingestor_source_requests_total[1d])) >= 20", ""),
    ],
)
def test_a_wrong_threshold_fails_the_unit_tests(tmp_path: Path, old: str, new: str) -> None:
    text = ALERTS.read_text()
    assert old in text
    tests = ALERTS_TESTS[1] if "day_of_year" in old else ALERTS_TESTS[0]
    result = _unit_test(tmp_path, text.replace(old, new, 1), tests)
    assert result.returncode != 0, result.stdout


# --------------------------------------------------------------------------- Alertmanager


def test_alertmanager_routes_every_severity_and_holds_no_url() -> None:
    config = load_yaml(ALERTMANAGER)
    assert alertmanager_problems(config) == []
    leaked = copy.deepcopy(config)
    leaked["receivers"][0]["webhook_configs"][0]["url"] = "https://hooks.example.com/T0/B0/x"
    assert alertmanager_problems(leaked)
    unrouted = copy.deepcopy(config)
    unrouted["route"]["routes"] = unrouted["route"]["routes"][1:]
    assert alertmanager_problems(unrouted)


@needs_amtool
def test_amtool_accepts_the_config() -> None:
    result = _run(AMTOOL, "check-config", str(ALERTMANAGER))
    assert result.returncode == 0, result.stdout + result.stderr


def _routes_to(config: Path, receiver: str, *labels: str) -> bool:
    result = _run(
        AMTOOL,
        "config",
        "routes",
        "test",
        f"--config.file={config}",
        f"--verify.receivers={receiver}",
        *labels,
    )
    return result.returncode == 0


@needs_amtool
@pytest.mark.parametrize(
    ("alert", "severity"),
    [
        ("ServiceDown", "critical"),
        ("GatewayErrorRateHigh", "critical"),
        ("HitRateLow", "warning"),
        ("ConsumerLagGrowing", "warning"),
        ("FeatureDrift", "info"),
    ],
)
def test_each_severity_reaches_its_receiver(
    alerts: dict[str, Any], alert: str, severity: str
) -> None:
    assert _rule(alerts, alert)["labels"]["severity"] == severity
    labels = (f"alertname={alert}", f"severity={severity}", "job=trainer")
    assert _routes_to(ALERTMANAGER, RECEIVERS[severity], *labels)
    others = set(RECEIVERS.values()) - {RECEIVERS[severity]}
    assert not any(_routes_to(ALERTMANAGER, r, *labels) for r in others)


@needs_amtool
def test_an_alert_without_a_known_severity_still_reaches_the_team() -> None:
    assert _routes_to(ALERTMANAGER, "team", "alertname=Unknown")


@needs_amtool
def test_a_misrouted_severity_is_caught(tmp_path: Path) -> None:
    config = load_yaml(ALERTMANAGER)
    config["route"]["routes"][0]["receiver"] = "team"  # critical no longer pages
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(config))
    assert not _routes_to(tmp_path / "alertmanager.yml", "page", "severity=critical")


# --------------------------------------------------------------------------- compose's start


def _start(tmp_path: Path, compose: dict[str, Any], url: str) -> subprocess.CompletedProcess[str]:
    """Compose's alertmanager entrypoint, run by /bin/sh with the paths moved to tmp_path and
    Alertmanager itself left out."""
    script = (
        compose_entrypoint_script(compose)
        .replace("/etc/alertmanager/alertmanager.template.yml", str(ALERTMANAGER))
        .replace("/tmp/alertmanager.yml", str(tmp_path / "alertmanager.yml"))
        .replace("exec /bin/alertmanager", "exit 0 #")
    )
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "ALERTMANAGER_WEBHOOK_URL": url}
    return subprocess.run(
        ["/bin/sh", "-euc", script], env=env, capture_output=True, text=True, timeout=30
    )


def test_compose_writes_the_webhook_url_into_the_config(
    tmp_path: Path, compose: dict[str, Any]
) -> None:
    url = "https://hooks.example.com/services/T0/B0?token=a&b=c|d"
    result = _start(tmp_path, compose, url)
    assert result.returncode == 0, result.stderr
    written = load_yaml(tmp_path / "alertmanager.yml")
    hooks = [h["url"] for r in written["receivers"] for h in r["webhook_configs"]]
    assert hooks == [url] * len(RECEIVERS)
    assert WEBHOOK_PLACEHOLDER not in (tmp_path / "alertmanager.yml").read_text()
    assert oct((tmp_path / "alertmanager.yml").stat().st_mode & 0o777) == "0o600"
    if AMTOOL:
        check = _run(AMTOOL, "check-config", str(tmp_path / "alertmanager.yml"))
        assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize(
    "url", ["", "hooks.example.com/x", 'https://hooks.example.com/"x', "https://a b", "ftp://x"]
)
def test_compose_refuses_a_bad_webhook_url(
    tmp_path: Path, compose: dict[str, Any], url: str
) -> None:
    result = _start(tmp_path, compose, url)
    assert result.returncode != 0
    assert not (tmp_path / "alertmanager.yml").exists()


def test_compose_wires_prometheus_to_alertmanager(compose: dict[str, Any]) -> None:
    services = compose["services"]
    am = services["alertmanager"]
    assert am["image"].startswith("prom/alertmanager:")
    assert "${ALERTMANAGER_WEBHOOK_URL:?" in am["environment"]["ALERTMANAGER_WEBHOOK_URL"]
    assert any(str(v).startswith("./deploy/alertmanager/alertmanager.yml:") for v in am["volumes"])
    assert services["prometheus"]["depends_on"]["alertmanager"] == {"condition": "service_healthy"}


# --------------------------------------------------------------------------- Kubernetes


def test_the_k8s_alerting_resources_are_generated_from_the_rules_and_routes() -> None:
    assert k8s_alerting_problems() == []
