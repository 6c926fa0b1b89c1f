"""The alerts (deploy/prometheus), their PrometheusRule (deploy/k8s) and the Grafana dashboard
(deploy/grafana), checked offline as `make lint` does (tests/ops/deploy_checks.py), plus that
those checks catch what they are there for. No broker needed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import generate_latest

from deploy import monitoring
from runtime import metrics
from tests.ops import deploy_checks
from tests.ops.deploy_checks import ROOT

# --- the tools ----------------------------------------------------------------------------


def test_promtool_checks_and_tests_the_rules() -> None:
    deploy_checks.check_prometheus_rules()


def test_promtool_parses_the_dashboard_queries() -> None:
    deploy_checks.check_dashboard_queries()


def test_the_monitoring_files_agree() -> None:
    assert deploy_checks.monitoring_problems() == []


def _copy_rules(tmp_path: Path, change: tuple[str, str] | None = None) -> Path:
    """alerts.yml and alerts_test.yml in tmp_path, the rules with one text replaced."""
    rules = monitoring.ALERTS.read_text()
    if change is not None:
        assert rules.count(change[0]) == 1, change[0]
        rules = rules.replace(*change)
    (tmp_path / "alerts.yml").write_text(rules)
    shutil.copy(monitoring.ALERTS_TEST, tmp_path / "alerts_test.yml")
    return tmp_path / "alerts_test.yml"


@pytest.mark.parametrize(
    "change",
    [
        ("> 1800", "> 3600"),  # QcexecTaskNotTerminal an hour late
        ("qcexec_processor_tasks_in_flight\n", "qcexec_processor_simulation_seconds_count\n"),
        ("increase(qcexec_materializer_records_total[5m])", "increase(qcexec_consumer_lag[5m])"),
    ],
)
def test_promtool_tests_fail_a_broken_alert(tmp_path: Path, change: tuple[str, str]) -> None:
    """The tests pin what the rules do: a changed threshold or a wrong metric fails them."""
    tests = _copy_rules(tmp_path, change)
    binary = deploy_checks.promtool()
    assert subprocess.run([binary, "check", "rules", str(tmp_path / "alerts.yml")]).returncode == 0
    assert subprocess.run([binary, "test", "rules", str(tests)]).returncode != 0


# --- the checks catch drift ---------------------------------------------------------------


def test_problems_found_when_files_drift(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An alert reading a metric nobody exports, an alert without tests, a stale
    PrometheusRule, a dashboard query of an unknown metric: each is named."""
    rules = monitoring.alert_rules()
    rules["groups"][1]["rules"].append(
        {"alert": "QcexecUntested", "expr": "qcexec_no_such_metric > 0 or qcexec:no_such:sum"}
    )
    alerts = tmp_path / "alerts.yml"
    alerts.write_text(yaml.safe_dump(rules))
    board = monitoring.dashboard()
    (answers,) = [p for p in board["panels"] if p["title"] == "HTTP answers by status"]
    answers["targets"][0]["expr"] = 'rate(qcexec_api_request_total{code="500"}[5m])'
    dashboard = tmp_path / "qcexec.json"
    dashboard.write_text(json.dumps(board))
    monkeypatch.setattr(monitoring, "ALERTS", alerts)
    monkeypatch.setattr(monitoring, "DASHBOARD", dashboard)
    problems = "\n".join(deploy_checks.monitoring_problems())
    assert "prometheusrule.yaml is not the one generated" in problems
    assert "alert QcexecUntested: no test where it fires" in problems
    assert "alert QcexecUntested: no test where it is quiet" in problems
    assert "reads qcexec_no_such_metric, which the service does not export" in problems
    assert "reads qcexec:no_such:sum, which no rule records" in problems
    assert "the dashboard reads qcexec_api_request_total" in problems
    assert "the dashboard shows nothing of qcexec_api_requests" in problems


def test_metric_names_leave_label_values_out() -> None:
    expr = (
        'sum by (code) (rate(qcexec_api_requests_total{route="qcexec_x"}[5m]))'
        " / on (instance) qcexec:processor_consumer_lag:sum + process_open_fds"
    )
    assert monitoring.metric_names(expr) == {"qcexec_api_requests_total", "process_open_fds"}
    assert monitoring.recorded_names(expr) == {"qcexec:processor_consumer_lag:sum"}


def test_exported_metrics_include_those_without_samples_yet() -> None:
    exported = monitoring.exported_metrics()
    assert {
        "qcexec_api_requests_total",
        "qcexec_processor_task_errors_total",
        "qcexec_processor_queue_seconds_bucket",
        "qcexec_consumer_lag",
        "process_resident_memory_bytes",
    } <= exported
    assert "qcexec_api_requests" not in exported


# --- the PrometheusRule -------------------------------------------------------------------


def test_prometheus_rule_carries_the_alerts_groups() -> None:
    rule = yaml.safe_load(monitoring.PROMETHEUS_RULE.read_text())
    assert (rule["apiVersion"], rule["kind"]) == ("monitoring.coreos.com/v1", "PrometheusRule")
    assert rule["spec"]["groups"] == monitoring.alert_rules()["groups"]
    rendered = deploy_checks.rendered_manifests()[1]
    assert [m for m in rendered if m["kind"] == "PrometheusRule"] == [rule]


def test_validation_rejects_a_bad_prometheus_rule() -> None:
    rule = yaml.safe_load(monitoring.PROMETHEUS_RULE.read_text())
    first, second, third = rule["spec"]["groups"][1]["rules"][:3]
    first["for"] = "2 minutes"
    second["exprs"] = second.pop("expr")
    third["record"] = "qcexec:both"
    errors = "\n".join(deploy_checks.validation_errors([rule]))
    assert "rules.0.for" in errors
    assert "'exprs' was unexpected" in errors
    assert "rules.2" in errors


# --- the dashboard ------------------------------------------------------------------------


def _overlap(a: dict[str, int], b: dict[str, int]) -> bool:
    return (
        a["x"] < b["x"] + b["w"]
        and b["x"] < a["x"] + a["w"]
        and a["y"] < b["y"] + b["h"]
        and b["y"] < a["y"] + a["h"]
    )


def test_dashboard_is_grafana_json() -> None:
    board: dict[str, Any] = json.loads(monitoring.DASHBOARD.read_text())
    assert board["uid"] == "qcexec" and board["title"]
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    panels = monitoring.dashboard_panels(board)
    assert len(panels) >= 10
    for panel in panels:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel
        assert panel["title"] and panel["description"], panel["id"]
        refs = [target["refId"] for target in panel["targets"]]
        assert refs and len(refs) == len(set(refs)), panel["title"]
        assert all(target["expr"].strip() for target in panel["targets"]), panel["title"]
    places = [panel["gridPos"] for panel in board["panels"]]
    assert all(place["x"] + place["w"] <= 24 for place in places)
    for i, a in enumerate(places):
        assert not any(_overlap(a, b) for b in places[i + 1 :]), a


# --- the docs -----------------------------------------------------------------------------


def test_every_alert_is_documented() -> None:
    operations = (ROOT / "docs" / "operations.md").read_text()
    rules = monitoring.alert_rules()
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:
                assert f"`{rule['alert']}`" in operations, rule["alert"]


def test_every_metric_is_in_the_docs_table() -> None:
    rows = re.findall(r"^\| `(qcexec_\w+)` \|", (ROOT / "docs" / "operations.md").read_text(), re.M)
    for family, samples in monitoring.exported_families().items():
        if family.startswith("qcexec_"):
            assert {family, *samples} & set(rows), family


# --- the metrics the alerts read ----------------------------------------------------------


def test_oldest_is_the_age_of_the_oldest_under_way() -> None:
    oldest = metrics.Oldest()
    assert oldest.age() == 0.0
    with oldest.track():
        time.sleep(0.05)
        with oldest.track():
            assert oldest.age() >= 0.05
        assert oldest.age() >= 0.05
    assert oldest.age() == 0.0


def test_outcomes_alerted_on_are_exported_before_they_happen() -> None:
    """A counter's series that first appears at 1 is no increase() to Prometheus: the
    outcomes and records the alerts count are exported at 0 from the start."""
    processor = generate_latest(metrics.PROCESSOR).decode()
    for outcome in ("dead_letter", "poison_cancellation", "completed"):
        assert f'qcexec_processor_tasks_total{{outcome="{outcome}"}} ' in processor
    for record in ("result", "dead_letter"):
        assert f'qcexec_processor_publish_failures_total{{record="{record}"}} 0.0' in processor
    api = generate_latest(metrics.API).decode()
    assert 'qcexec_api_submit_duration_seconds_count{outcome="unavailable"}' in api
