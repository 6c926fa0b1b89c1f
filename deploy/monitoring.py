"""The alerts and the dashboard of deploy/, and their one source for Kubernetes.

    python -m deploy.monitoring    # writes deploy/k8s/prometheusrule.yaml from the alerts

- deploy/prometheus/alerts.yml: the alerting rules, as Prometheus's ``rule_files`` take them;
  deploy/prometheus/alerts_test.yml: their unit tests (``promtool test rules``);
- deploy/k8s/prometheusrule.yaml: the same groups as a PrometheusRule of the Prometheus
  Operator, written by :func:`main` (never by hand);
- deploy/grafana/qcexec.json: a Grafana dashboard of the service's own metrics.

tests/ops/deploy_checks.py (``make lint``) runs promtool on the rules, checks that the
PrometheusRule is what :func:`render` gives, and that every metric the rules and the dashboard
name is one the service exports (:func:`exported_metrics`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from runtime import metrics

ROOT = Path(__file__).resolve().parents[1]
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
ALERTS_TEST = ROOT / "deploy" / "prometheus" / "alerts_test.yml"
PROMETHEUS_RULE = ROOT / "deploy" / "k8s" / "prometheusrule.yaml"
DASHBOARD = ROOT / "deploy" / "grafana" / "qcexec.json"

HEADER = """\
# Generated from deploy/prometheus/alerts.yml by `python -m deploy.monitoring`: edit that file
# and run the command (make lint fails while the two differ). What each alert means and what
# to do: docs/operations.md, "Alerts".
#
# Needs the Prometheus Operator's CRDs (kube-prometheus-stack, for one). Its Prometheus loads
# the PrometheusRules its ruleSelector picks (kube-prometheus-stack: the label
# `release: <its Helm release>`, unless ruleSelectorNilUsesHelmValues is false): add that
# label with kustomize (`kustomize edit add label`), not here.
"""

#: The sample names of each metric type, from its family's name.
_SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_count", "_sum"),
    "summary": ("", "_count", "_sum"),
    "info": ("_info",),
}
#: The prefixes of what the service's registries export: its own metrics, and the process and
#: Python collectors' (runtime/metrics.py).
_METRIC = re.compile(r"\b(?:qcexec|process|python)_[a-zA-Z0-9_]*")
_RECORDED = re.compile(r"\bqcexec:[a-zA-Z0-9_:]+")
_QUOTED = re.compile(r""""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`""")


def exported_families() -> dict[str, set[str]]:
    """Every metric the API, the processor and the materializer export, and its sample names
    (``qcexec_api_requests``: ``qcexec_api_requests_total``), whether or not it has samples
    yet."""
    families: dict[str, set[str]] = {}
    for registry in (metrics.API, metrics.PROCESSOR, metrics.MATERIALIZER):
        for family in registry.collect():
            suffixes = _SUFFIXES.get(family.type, ("",))
            families.setdefault(family.name, set()).update(family.name + s for s in suffixes)
    return families


def exported_metrics() -> set[str]:
    """Every sample name the API, the processor and the materializer export."""
    return set().union(*exported_families().values())


def metric_names(expr: str) -> set[str]:
    """The service's metric names a PromQL expression reads (label values left out)."""
    return set(_METRIC.findall(_QUOTED.sub("", expr)))


def recorded_names(expr: str) -> set[str]:
    """The recording rules (``qcexec:...``) a PromQL expression reads."""
    return set(_RECORDED.findall(_QUOTED.sub("", expr)))


def alert_rules() -> dict[str, Any]:
    return yaml.safe_load(ALERTS.read_text())


def rule_expressions(rules: dict[str, Any]) -> list[str]:
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def dashboard_panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, those inside collapsed rows too (rows themselves left out)."""
    panels = []
    for panel in board["panels"]:
        if panel.get("type") == "row":
            panels += panel.get("panels", [])
        else:
            panels.append(panel)
    return panels


def dashboard_expressions(board: dict[str, Any]) -> list[str]:
    return [
        target["expr"] for panel in dashboard_panels(board) for target in panel.get("targets", [])
    ]


def prometheus_rule(rules: dict[str, Any]) -> dict[str, Any]:
    """The PrometheusRule (monitoring.coreos.com/v1) of these rule groups."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "qcexec",
            "labels": {"app.kubernetes.io/name": "qcexec", "app.kubernetes.io/part-of": "qcexec"},
        },
        "spec": {"groups": rules["groups"]},
    }


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (the expressions) as literal blocks, as alerts.yml writes them."""


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _string)


def render() -> str:
    """deploy/k8s/prometheusrule.yaml as it must be."""
    body = yaml.dump(prometheus_rule(alert_rules()), Dumper=_Dumper, sort_keys=False, width=100)
    return HEADER + body


def main() -> None:
    PROMETHEUS_RULE.write_text(render())
    print(f"wrote {PROMETHEUS_RULE.relative_to(ROOT)} from {ALERTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
