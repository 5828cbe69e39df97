"""Alert rules and Grafana dashboards: the structure Prometheus and Grafana need, every required
alert present, and every metric they name registered by the code (or the lag exporter's)."""

import json
import re
from collections.abc import Iterator
from functools import cache
from typing import Any

from deploylib.common import ROOT, load_yaml
from deploylib.runbooks import anchors

# Metrics that are not registered in this repository's code.
EXTERNAL_METRICS = frozenset(
    {
        "up",  # Prometheus, per scrape target
        "kafka_consumergroup_lag",  # danielqsj/kafka-exporter
        "kafka_topic_partition_current_offset",  # danielqsj/kafka-exporter
    }
)
# The trainer's model monitor, being written in parallel with these exact names (issue 8). Once
# it lands, the names are found in the code as well.
MONITOR_METRICS = frozenset(
    {
        "statmuse_monitor_hit_rate_7d",
        "statmuse_monitor_ece_7d",
        "statmuse_monitor_negative_roi_days",
        "statmuse_monitor_predictions_daily",
        "statmuse_monitor_drift_psi",
        "statmuse_monitor_drift_ks",
        "statmuse_monitor_drift_alerts_total",
    }
)

# --------------------------------------------------------------------------- metrics and PromQL

_METRIC_DEF = re.compile(r"\b(Counter|Gauge|Histogram|Summary)\(\s*\"([a-zA-Z_:][a-zA-Z0-9_:]*)\"")
_KEYWORDS = frozenset(
    {
        "and",
        "or",
        "unless",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "bool",
        "offset",
        "inf",
        "nan",
    }
)


@cache
def code_metrics() -> frozenset[str]:
    """Every metric name the code registers, with the series names it exposes."""
    names: set[str] = set()
    for src in [ROOT / "shared/src", *(ROOT / "services").glob("*/src")]:
        for path in src.rglob("*.py"):
            for kind, name in _METRIC_DEF.findall(path.read_text()):
                names.add(name)
                if kind == "Counter" and not name.endswith("_total"):
                    names.add(f"{name}_total")
                if kind in ("Histogram", "Summary"):
                    names.update(f"{name}{s}" for s in ("_bucket", "_count", "_sum"))
    return frozenset(names)


def known_metrics() -> frozenset[str]:
    return code_metrics() | MONITOR_METRICS | EXTERNAL_METRICS


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (functions, keywords, labels left out)."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    names = set()
    for m in re.finditer(r"(?<![\w.])[a-zA-Z_:][a-zA-Z0-9_:]*", e):
        if e[m.end() :].lstrip().startswith("(") or m.group(0) in _KEYWORDS:
            continue
        names.add(m.group(0))
    return names


def label_values(expr: str, metric: str, label: str) -> set[str]:
    pattern = re.escape(metric) + r"\{([^}]*)\}"
    values = set()
    for matchers in re.findall(pattern, expr):
        for value in re.findall(re.escape(label) + r'\s*!?=~?\s*"([^"]*)"', matchers):
            values.add(value)
    return values


# (what the issue asks for, the metric, a regex the expression must match)
REQUIRED_ALERTS = (
    # Below break-even at -110 (52.38%), with the sample size in the rule.
    (
        "hit rate below break-even over 7 days",
        r"statmuse_monitor_hit_rate_7d\s*<\s*0?\.5238\b[\s\S]*statmuse_monitor_bets_7d",
    ),
    ("ECE above 0.10", r"statmuse_monitor_ece_7d\s*>\s*0?\.10?\b"),
    ("ROI negative for 7 days", r"statmuse_monitor_negative_roi_days\s*>=\s*7\b"),
    ("missing data above 10%", r"statmuse_data_missing_ratio\s*>\s*0?\.10?\b"),
    ("no new data for 24 hours", r"statmuse_ingestor_last_game_date_timestamp"),
    ("source failures above 5%", r"statmuse_ingestor_source_requests_total[\s\S]*>\s*0?\.05\b"),
    ("growing consumer lag", r"deriv\(\s*kafka_consumergroup_lag"),
    ("gateway 5xx rate", r"statmuse_gateway_requests_total\{status=~\"5\.\.\"\}"),
)
SEVERITIES = frozenset({"info", "warning", "critical"})


def alert_problems(rules: dict[str, Any]) -> list[str]:
    problems = []
    from statmuse_ingestor.nba_api_source import OUTCOMES

    exprs = []
    for group in rules.get("groups") or []:
        for rule in group.get("rules") or []:
            name = rule.get("alert", "?")
            for key in ("alert", "expr", "for"):
                if not rule.get(key):
                    problems.append(f"alert {name}: no {key}")
            if (rule.get("labels") or {}).get("severity") not in SEVERITIES:
                problems.append(
                    f"alert {name}: labels.severity must be one of {sorted(SEVERITIES)}"
                )
            notes = rule.get("annotations") or {}
            if not notes.get("summary"):
                problems.append(f"alert {name}: no annotations.summary")
            runbook = str(notes.get("runbook", ""))
            path, _, anchor = runbook.partition("#")
            if not path or not (ROOT / path).is_file():
                problems.append(f"alert {name}: runbook {runbook!r} does not exist")
            elif anchor and anchor not in anchors(ROOT / path):
                problems.append(f"alert {name}: runbook has no section #{anchor}")
            expr = str(rule.get("expr", ""))
            exprs.append(expr)
            for metric in sorted(metric_names(expr) - known_metrics()):
                problems.append(f"alert {name}: unknown metric {metric}")
            bad = label_values(expr, "statmuse_ingestor_source_requests_total", "outcome")
            for value in sorted(bad - set(OUTCOMES)):
                problems.append(f"alert {name}: outcome {value!r} is never recorded")
    for what, pattern in REQUIRED_ALERTS:
        if not any(re.search(pattern, e) for e in exprs):
            problems.append(f"alerts: nothing alerts on {what} (/{pattern}/)")
    return problems


# --------------------------------------------------------------------------- Grafana

DASHBOARD_DIR = ROOT / "deploy/grafana/provisioning/dashboards"
REQUIRED_DASHBOARDS = ("pipeline", "lag", "latency", "calibration", "freshness")


def dashboards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARD_DIR.glob("*.json"))}


def panel_exprs(dashboard: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], str]]:
    for panel in dashboard.get("panels", []):
        for target in panel.get("targets", []):
            yield panel.get("title", "?"), target, str(target.get("expr", ""))


def dashboard_problems(boards: dict[str, dict[str, Any]]) -> list[str]:
    problems = []
    datasources = load_yaml(ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml")
    uids = {d["uid"] for d in datasources["datasources"]}
    providers = load_yaml(DASHBOARD_DIR / "statmuse.yml")["providers"]
    if not any(p["options"]["path"] == "/etc/grafana/provisioning/dashboards" for p in providers):
        problems.append("grafana: no provider loads /etc/grafana/provisioning/dashboards")
    seen: set[str] = set()
    for file, board in boards.items():
        uid = board.get("uid")
        if not uid or uid in seen:
            problems.append(f"grafana {file}: missing or duplicate uid {uid}")
        seen.add(str(uid))
        if not board.get("panels"):
            problems.append(f"grafana {file}: no panels")
        for title, target, expr in panel_exprs(board):
            if (target.get("datasource") or {}).get("uid") not in uids:
                problems.append(f"grafana {file} / {title}: datasource is not {sorted(uids)}")
            if not expr:
                problems.append(f"grafana {file} / {title}: empty query")
            for metric in sorted(metric_names(expr) - known_metrics()):
                problems.append(f"grafana {file} / {title}: unknown metric {metric}")
    for topic in REQUIRED_DASHBOARDS:
        if not any(topic in f"{f} {b.get('title', '')}".lower() for f, b in boards.items()):
            problems.append(f"grafana: no {topic} dashboard")
    return problems
