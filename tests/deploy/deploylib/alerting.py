"""Alert delivery: Alertmanager's routing (deploy/alertmanager/alertmanager.yml), the webhook URL
put in at start in compose, and deploy/k8s/alerting.yaml, the same rules and routing as
prometheus-operator resources, generated from the two files so they cannot drift apart.

Regenerate deploy/k8s/alerting.yaml after changing alerts.yml or alertmanager.yml:
    uv run python tests/deploy/deploylib/alerting.py
"""

import re
import sys
from pathlib import Path
from typing import Any

import yaml

if __name__ == "__main__":  # run as a script: deploylib is not on sys.path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deploylib.common import ROOT, SERVICES, load_yaml

ALERTS = ROOT / "deploy/prometheus/alerts.yml"
ALERTS_TESTS = (
    ROOT / "deploy/prometheus/alerts_test.yml",
    ROOT / "deploy/prometheus/alerts_season_test.yml",
)
ALERTMANAGER = ROOT / "deploy/alertmanager/alertmanager.yml"
K8S_ALERTING = ROOT / "deploy/k8s/alerting.yaml"
# The placeholder compose's entrypoint replaces with ALERTMANAGER_WEBHOOK_URL.
WEBHOOK_PLACEHOLDER = "http://alertmanager-webhook.invalid/ALERTMANAGER_WEBHOOK_URL"
# Where each severity must go.
RECEIVERS = {"critical": "page", "warning": "team", "info": "digest"}
NAMESPACE = "statmuse"
WEBHOOK_SECRET = {"name": "statmuse-alertmanager", "key": "ALERTMANAGER_WEBHOOK_URL"}


def alertmanager_problems(config: dict[str, Any]) -> list[str]:
    """What amtool does not check: every receiver posts to the placeholder (never a real URL in
    git), every severity has its own route to its receiver."""
    problems = []
    for receiver in config.get("receivers") or []:
        hooks = receiver.get("webhook_configs") or []
        if not hooks:
            problems.append(f"alertmanager: receiver {receiver.get('name')} has no webhook")
        for hook in hooks:
            if hook.get("url") != WEBHOOK_PLACEHOLDER:
                problems.append(
                    f"alertmanager: receiver {receiver.get('name')} posts to {hook.get('url')!r},"
                    " not the placeholder compose fills in (a URL in git is a leaked secret)"
                )
    routes = (config.get("route") or {}).get("routes") or []
    for severity, receiver in RECEIVERS.items():
        if not any(
            r.get("matchers") == [f'severity="{severity}"'] and r.get("receiver") == receiver
            for r in routes
        ):
            problems.append(f"alertmanager: no route sends severity={severity} to {receiver}")
    return problems


# --------------------------------------------------------------------------- compose


def compose_entrypoint_script(compose: dict[str, Any]) -> str:
    """The alertmanager service's start script as the shell sees it (compose's `$$` is `$`)."""
    return str(compose["services"]["alertmanager"]["command"][0]).replace("$$", "$")


# --------------------------------------------------------------------------- Kubernetes

_MATCHER = re.compile(r'^\s*([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*$')


def _matcher(text: str) -> dict[str, str]:
    m = _MATCHER.match(text)
    assert m, f'matcher {text!r} is not name<op>"value"'
    return {"name": m.group(1), "matchType": m.group(2), "value": m.group(3)}


def _route(route: dict[str, Any]) -> dict[str, Any]:
    keys = {
        "receiver": "receiver",
        "group_by": "groupBy",
        "group_wait": "groupWait",
        "group_interval": "groupInterval",
        "repeat_interval": "repeatInterval",
        "continue": "continue",
    }
    out: dict[str, Any] = {keys[k]: v for k, v in route.items() if k in keys}
    if route.get("matchers"):
        out["matchers"] = [_matcher(m) for m in route["matchers"]]
    if route.get("routes"):
        out["routes"] = [_route(r) for r in route["routes"]]
    unknown = set(route) - set(keys) - {"matchers", "routes"}
    assert not unknown, f"route fields the generator does not translate: {sorted(unknown)}"
    return out


def alertmanager_config(config: dict[str, Any]) -> dict[str, Any]:
    """alertmanager.yml as a prometheus-operator AlertmanagerConfig (v1alpha1): the same routes
    and inhibitions; the webhook URL from the Secret statmuse-alertmanager."""
    receivers = []
    for receiver in config["receivers"]:
        hooks = [
            {"urlSecret": dict(WEBHOOK_SECRET), "sendResolved": bool(h.get("send_resolved"))}
            for h in receiver["webhook_configs"]
        ]
        receivers.append({"name": receiver["name"], "webhookConfigs": hooks})
    inhibit = [
        {
            "sourceMatch": [_matcher(m) for m in rule["source_matchers"]],
            "targetMatch": [_matcher(m) for m in rule["target_matchers"]],
            "equal": rule["equal"],
        }
        for rule in config.get("inhibit_rules") or []
    ]
    return {
        "apiVersion": "monitoring.coreos.com/v1alpha1",
        "kind": "AlertmanagerConfig",
        "metadata": {"name": "statmuse"},
        "spec": {"route": _route(config["route"]), "inhibitRules": inhibit, "receivers": receivers},
    }


def prometheus_rule(rules: dict[str, Any]) -> dict[str, Any]:
    """alerts.yml as a PrometheusRule. Each alert gets `namespace: statmuse`: the operator sends
    an AlertmanagerConfig only the alerts of its own namespace, and the aggregated rules (sum,
    sum by) drop the label their series had."""
    groups = []
    for group in rules["groups"]:
        out = []
        for rule in group["rules"]:
            rule = dict(rule)
            rule["labels"] = {**rule.get("labels", {}), "namespace": NAMESPACE}
            out.append(rule)
        groups.append({"name": group["name"], "rules": out})
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "statmuse-alerts"},
        "spec": {"groups": groups},
    }


def pod_monitor() -> dict[str, Any]:
    """Scrapes every service's /metrics, with `job` = the service's name (as in compose), which
    ServiceDown and the inhibit rule read."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": {"name": "statmuse"},
        "spec": {
            "jobLabel": "app.kubernetes.io/name",
            "selector": {
                "matchExpressions": [
                    {"key": "app.kubernetes.io/name", "operator": "In", "values": list(SERVICES)}
                ]
            },
            "podMetricsEndpoints": [{"port": "http", "path": "/metrics", "interval": "15s"}],
        },
    }


HEADER = """\
# GENERATED by `uv run python tests/deploy/deploylib/alerting.py` from
# deploy/prometheus/alerts.yml and deploy/alertmanager/alertmanager.yml (their comments explain
# every threshold and route); a test fails while this file is stale. Do not edit.
#
# For a cluster whose Prometheus and Alertmanager the prometheus-operator runs (kube-prometheus-
# stack in the namespace `monitoring`): the PodMonitor scrapes the five services, the
# PrometheusRule holds the alert rules, the AlertmanagerConfig routes this namespace's alerts by
# severity to the webhook whose URL is in the Secret `statmuse-alertmanager` (key
# ALERTMANAGER_WEBHOOK_URL, from alertmanager.env). Your Prometheus and Alertmanager select these
# by label (podMonitorSelector, ruleSelector, alertmanagerConfigSelector): add the label they
# want (kube-prometheus-stack: `release: <its release name>`) under `labels:` in
# kustomization.yaml or here via a kustomize patch. See deploy/README.md.
"""


def render_k8s_alerting() -> str:
    docs = [
        pod_monitor(),
        prometheus_rule(load_yaml(ALERTS)),
        alertmanager_config(load_yaml(ALERTMANAGER)),
    ]
    body = "---\n".join(
        yaml.safe_dump(d, sort_keys=False, width=100, allow_unicode=True) for d in docs
    )
    return HEADER + body


def k8s_alerting_problems() -> list[str]:
    if not K8S_ALERTING.is_file() or K8S_ALERTING.read_text() != render_k8s_alerting():
        return [
            "deploy/k8s/alerting.yaml is stale: uv run python tests/deploy/deploylib/alerting.py"
        ]
    return []


if __name__ == "__main__":
    K8S_ALERTING.write_text(render_k8s_alerting())
    print(f"wrote {K8S_ALERTING.relative_to(ROOT)}")  # noqa: T201
