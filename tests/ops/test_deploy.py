"""The Dockerfile, docker-compose.yml and deploy/k8s, checked offline: tools where they exist
(see deploy_checks.py), the structure we rely on, and that every container runs the command
the local stack runs (deploy/stack.py), so that the two cannot drift apart. No broker needed.
Longer than 300 lines: one test module for the three deploy targets, so that a command or a
setting checked for one is checked for all."""

from __future__ import annotations

import copy
import http.server
import json
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from deploy.stack import app_commands, topics_command
from runtime.settings import Settings
from schemas.topics import Topics
from tests.ops import deploy_checks
from tests.ops.deploy_checks import ROOT, Manifest

APPS = ("api", "processor", "materializer")


def normalised(command: list[str]) -> list[str]:
    """The interpreter is `python` in the image and sys.executable in the local stack."""
    if command and Path(command[0]).name.startswith("python"):
        return ["python", *command[1:]]
    return command


# --- the tools ----------------------------------------------------------------------------


def test_dockerfile_passes_hadolint() -> None:
    deploy_checks.hadolint()


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """docker-compose.yml as Compose itself reads it (this validates it, too)."""
    return deploy_checks.compose_config()


@pytest.fixture(scope="module")
def manifests() -> list[Manifest]:
    return deploy_checks.rendered_manifests()[1]


def test_manifests_are_valid_kubernetes(manifests: list[Manifest]) -> None:
    assert deploy_checks.validation_errors(manifests) == []


def test_validation_rejects_what_it_should(manifests: list[Manifest]) -> None:
    """The validators are strict: a misspelt field fails, and so does a number where the
    ScaledObject wants a string."""
    deployment = copy.deepcopy(_one(manifests, "Deployment", "qcexec-api"))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbes"] = {}
    scaled = copy.deepcopy(_one(manifests, "ScaledObject", "qcexec-processor"))
    scaled["spec"]["triggers"][0]["metadata"]["lagThreshold"] = 8
    scaled["spec"]["maxReplicas"] = 3
    errors = deploy_checks.validation_errors([deployment, scaled])
    assert any("livenessProbes" in error for error in errors)
    assert any("lagThreshold" in error for error in errors)
    assert any("maxReplicas" in error for error in errors)


def test_python_renderer_matches_kubectl() -> None:
    """render_kustomization stands in for kubectl where it is missing: same objects."""
    by_kubectl = deploy_checks.kubectl_kustomize()
    if by_kubectl is None:
        pytest.skip("kubectl is not installed")
    by_python = deploy_checks.render_kustomization()
    assert _by_name(by_python) == _by_name(by_kubectl)


def test_kubernetes_version_is_known_to_the_validator() -> None:
    known = set(kubernetes_validate.utils.all_versions())
    assert set(deploy_checks.KUBERNETES_VERSIONS) <= known


# --- the commands: the same as the local stack's ------------------------------------------


def test_compose_runs_the_local_stack_commands(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, command in app_commands("python").items():
        assert normalised(services[name]["command"]) == command, name
    assert normalised(services["topics"]["command"]) == topics_command("python")


def test_kubernetes_runs_the_local_stack_commands(manifests: list[Manifest]) -> None:
    for name, command in app_commands("python").items():
        (container,) = _pod_spec(_one(manifests, "Deployment", f"qcexec-{name}"))["containers"]
        assert normalised(container["command"]) == command, name
        assert "args" not in container, name
    (job,) = _pod_spec(_one(manifests, "Job", "qcexec-topics"))["containers"]
    assert normalised(job["command"]) == topics_command("python")


def test_image_default_command_is_the_api() -> None:
    assert normalised(json.loads(_dockerfile_instruction("CMD"))) == app_commands("python")["api"]


# --- the Dockerfile -----------------------------------------------------------------------


def _dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def _dockerfile_instruction(name: str) -> str:
    """The last instruction of that name, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", _dockerfile())
    found = re.findall(rf"^{name}\s+(.*)$", text, flags=re.MULTILINE)
    assert found, name
    return found[-1].strip()


def test_dockerfile_builds_from_the_lock_and_runs_unprivileged() -> None:
    text = _dockerfile()
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text, flags=re.MULTILINE)
    assert len(stages) >= 2, "multi-stage"
    assert len({image for image, _ in stages}) == 1, "one base image: the venv's python path"
    assert re.search(r"pip install .*\"?uv==", text), "uv from PyPI, pinned"
    assert "uv sync --frozen --no-dev" in text
    user = _dockerfile_instruction("USER").split(":")[0]
    assert user.isdigit() and int(user) != 0, "numeric non-root user (runAsNonRoot)"
    assert re.search(r"^ENV\b[^\n]*(\\\n[^\n]*)*API_HOST=0\.0\.0\.0", text, flags=re.MULTILINE)


def test_dockerignore_lets_in_what_the_dockerfile_copies() -> None:
    allowed = {
        line[1:].rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    copied = set()
    for arguments in re.findall(r"^COPY\s+(?!--from)(.*)$", _dockerfile(), flags=re.MULTILINE):
        copied.update(arguments.split()[:-1])
    assert copied and copied <= allowed


def _health_handler(status: dict[str, int]) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status.get(self.path, 404))
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def health_server() -> Iterator[tuple[int, dict[str, int]]]:
    """An HTTP server on a free port; the status it answers per path can be changed."""
    status = {"/healthz": 200, "/readyz": 200}
    server = http.server.HTTPServer(("127.0.0.1", 0), _health_handler(status))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port, status
    server.shutdown()
    server.server_close()


def _run_check(command: list[str], env: dict[str, str] | None = None) -> int:
    assert command[0] == "python"
    return subprocess.run([sys.executable, *command[1:]], env=env, timeout=30).returncode


def test_image_healthcheck_asks_healthz(health_server: tuple[int, dict[str, int]]) -> None:
    """One HEALTHCHECK for every role: the API's /healthz, or the processor's or the
    materializer's on their metrics port."""
    port, status = health_server
    match = re.match(r"(--\S+\s+)*CMD\s+(\[.*\])$", _dockerfile_instruction("HEALTHCHECK"))
    assert match, "HEALTHCHECK ... CMD [json]"
    command = json.loads(match.group(2))
    closed = str(_closed_port())
    for variable in ("API_PORT", "PROCESSOR_METRICS_PORT", "MATERIALIZER_METRICS_PORT"):
        env = {"API_PORT": closed, variable: str(port)}
        status["/healthz"] = 200
        assert _run_check(command, env) == 0, variable
        status["/healthz"] = 503
        assert _run_check(command, env) != 0, variable
    assert _run_check(command, {"API_PORT": closed}) != 0


def _dockerfile_env() -> dict[str, str]:
    text = re.sub(r"\\\n\s*", " ", _dockerfile())
    pairs = re.findall(r"^ENV\s+(.*)$", text, flags=re.MULTILINE)
    return dict(pair.split("=", 1) for line in pairs for pair in line.split())


def test_image_serves_metrics_of_every_role() -> None:
    env = _dockerfile_env()
    assert env["METRICS_HOST"] == "0.0.0.0"
    exposed = set(_dockerfile_instruction("EXPOSE").split())
    for variable in ("API_PORT", "PROCESSOR_METRICS_PORT", "MATERIALIZER_METRICS_PORT"):
        assert env[variable] in exposed, variable


# --- docker-compose.yml -------------------------------------------------------------------


def test_compose_api_is_healthy_when_ready(
    compose: dict[str, Any], health_server: tuple[int, dict[str, int]]
) -> None:
    port, status = health_server
    command = compose["services"]["api"]["healthcheck"]["test"][1:]
    env = {"API_PORT": str(port)}
    assert _run_check(command, env) == 0
    status["/readyz"] = 503
    assert _run_check(command, env) != 0


def test_compose_services_and_start_order(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {
        "redpanda",
        "console",
        "redis",
        "topics",
        "api",
        "processor",
        "materializer",
    }
    assert services["topics"]["depends_on"]["redpanda"]["condition"] == "service_healthy"
    for name in APPS:
        depends = services[name]["depends_on"]
        assert depends["topics"]["condition"] == "service_completed_successfully", name
        assert depends["redis"]["condition"] == "service_healthy", name
    assert services["topics"]["restart"] == "no"
    # Whatever others wait for as healthy has a health check.
    for name, service in services.items():
        for needed, how in service.get("depends_on", {}).items():
            if how["condition"] == "service_healthy":
                assert "test" in services[needed].get("healthcheck", {}), (name, needed)


def test_compose_apps_share_one_image_and_find_the_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    images = {services[name]["image"] for name in (*APPS, "topics")}
    assert len(images) == 1
    for name in (*APPS, "topics"):
        environment = services[name]["environment"]
        assert environment["KAFKA_BOOTSTRAP_SERVERS"] == "redpanda:9092", name
        assert environment["REDIS_HOST"] == "redis", name
        assert "container_name" not in services[name], name


def test_compose_processor_scales(compose: dict[str, Any]) -> None:
    processor = compose["services"]["processor"]
    assert "container_name" not in processor
    assert not processor.get("ports")


def test_compose_broker_listeners_and_redis_persistence(compose: dict[str, Any]) -> None:
    services = compose["services"]
    redpanda = services["redpanda"]
    assert "--mode=dev-container" in redpanda["command"]
    assert (
        "--advertise-kafka-addr=internal://redpanda:9092,external://localhost:19092"
        in redpanda["command"]
    )
    assert {"published": "19092", "target": 19092} in [
        {key: port[key] for key in ("published", "target")} for port in redpanda["ports"]
    ]
    redis = services["redis"]
    assert redis["command"] == ["redis-server", "--appendonly", "yes"]
    assert [volume["target"] for volume in redis["volumes"]] == ["/data"]
    api_ports = services["api"]["ports"]
    assert [port["target"] for port in api_ports] == [8000]


# --- deploy/k8s ---------------------------------------------------------------------------


def _by_name(manifests: list[Manifest]) -> dict[tuple[str, str], Manifest]:
    return {(m["kind"], m["metadata"]["name"]): m for m in manifests}


def _one(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    return _by_name(manifests)[(kind, name)]


def _pod_spec(manifest: Manifest) -> dict[str, Any]:
    return manifest["spec"]["template"]["spec"]


def _config(manifests: list[Manifest]) -> dict[str, str]:
    return _one(manifests, "ConfigMap", "qcexec-config")["data"]


def _deployments(manifests: list[Manifest]) -> list[Manifest]:
    return [m for m in manifests if m["kind"] == "Deployment"]


def test_configmap_names_only_real_settings(manifests: list[Manifest]) -> None:
    settings = {name.upper() for name in Settings.model_fields}
    config = _config(manifests)
    assert set(config) - {"PYTHONUNBUFFERED"} <= settings
    assert Settings(**{k.lower(): v for k, v in config.items() if k.lower() in settings})


def test_every_deployment_has_probes_resources_and_a_pdb(manifests: list[Manifest]) -> None:
    deployments = _deployments(manifests)
    assert {d["metadata"]["name"] for d in deployments} == {f"qcexec-{app}" for app in APPS}
    budgets = [m for m in manifests if m["kind"] == "PodDisruptionBudget"]
    for deployment in deployments:
        name = deployment["metadata"]["name"]
        pod = deployment["spec"]["template"]
        assert (
            deployment["spec"]["selector"]["matchLabels"].items()
            <= pod["metadata"]["labels"].items()
        )
        for container in pod["spec"]["containers"]:
            assert {"livenessProbe", "readinessProbe"} <= set(container), name
            assert set(container["resources"]) == {"requests", "limits"}, name
            assert container["envFrom"] == [{"configMapRef": {"name": "qcexec-config"}}], name
        covering = [
            b
            for b in budgets
            if b["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
        ]
        assert len(covering) == 1, name
        assert pod["spec"]["securityContext"]["runAsNonRoot"] is True


def test_api_probes_service_and_hpa(manifests: list[Manifest]) -> None:
    api = _one(manifests, "Deployment", "qcexec-api")
    (container,) = _pod_spec(api)["containers"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"http": 8000}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert _config(manifests)["API_PORT"] == "8000"
    service = _one(manifests, "Service", "qcexec-api")
    assert (
        service["spec"]["selector"].items() <= api["spec"]["template"]["metadata"]["labels"].items()
    )
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]
    hpa = _one(manifests, "HorizontalPodAutoscaler", "qcexec-api")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "qcexec-api"
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    assert "cpu" in container["resources"]["requests"], "CPU utilisation needs a request"
    assert "replicas" not in api["spec"], "the HPA owns the replica count"


def test_processor_scaled_object_follows_the_settings(manifests: list[Manifest]) -> None:
    config = _config(manifests)
    scaled = _one(manifests, "ScaledObject", "qcexec-processor")
    processor = _one(manifests, "Deployment", "qcexec-processor")
    assert scaled["spec"]["scaleTargetRef"]["name"] == processor["metadata"]["name"]
    assert "replicas" not in processor["spec"], "KEDA owns the replica count"
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "kafka"
    metadata = trigger["metadata"]
    assert metadata["consumerGroup"] == config["PROCESSOR_ID"] == "qcexec-processor"
    assert metadata["topic"] == Topics.with_prefix(config["QC_TOPIC_PREFIX"]).submitted
    assert metadata["bootstrapServersFromEnv"] in config
    # More processors than partitions would sit idle.
    assert scaled["spec"]["maxReplicaCount"] <= int(config["QC_TOPIC_PARTITIONS"])


def test_processor_resources_fit_its_settings(manifests: list[Manifest]) -> None:
    config = _config(manifests)
    processor = _one(manifests, "Deployment", "qcexec-processor")
    pod = _pod_spec(processor)
    (container,) = pod["containers"]
    workers = int({e["name"]: e["value"] for e in container["env"]}["PROCESSOR_WORKERS"])
    limits = container["resources"]["limits"]
    assert workers == int(limits["cpu"]), "one simulator process per CPU of the limit"
    memory_mb = int(limits["memory"].removesuffix("Gi")) * 1024
    assert memory_mb >= workers * int(config["QC_TASK_MAX_MEMORY_MB"]) + 512
    # Time to finish the tasks in hand on SIGTERM.
    assert pod["terminationGracePeriodSeconds"] >= int(config["QC_TASK_TIME_LIMIT_MS"]) / 1000


def _exec_probes(manifests: list[Manifest], probe: str) -> list[list[str]]:
    return [
        container[probe]["exec"]["command"]
        for deployment in _deployments(manifests)
        for container in _pod_spec(deployment)["containers"]
        if "exec" in container[probe]
    ]


def test_readiness_checks_are_one_script(manifests: list[Manifest]) -> None:
    """The processor's and materializer's readiness probes."""
    probes = _exec_probes(manifests, "readinessProbe")
    assert len(probes) == 2 and probes[0] == probes[1]


@pytest.mark.parametrize("role", APPS[1:])
def test_compose_health_is_the_liveness_endpoint(
    compose: dict[str, Any], health_server: tuple[int, dict[str, int]], role: str
) -> None:
    """Healthy while /healthz on the role's metrics port answers 200 (its consume loop ticks)."""
    port, status = health_server
    command = compose["services"][role]["healthcheck"]["test"]
    assert command[0] == "CMD"
    env = {"API_PORT": str(port), f"{role.upper()}_METRICS_PORT": str(port)}
    assert _run_check(command[1:], env) == 0
    status["/healthz"] = 503
    assert _run_check(command[1:], env) != 0
    status["/healthz"] = 200
    assert _run_check(command[1:], {"API_PORT": str(port)}) != 0, "the role's own port only"


def test_readiness_check_needs_broker_and_redis(manifests: list[Manifest]) -> None:
    (command, *_) = _exec_probes(manifests, "readinessProbe")
    closed = _closed_port()
    with _listening() as broker, _listening() as redis:

        def env(brokers: str, redis_port: int) -> dict[str, str]:
            return {
                "KAFKA_BOOTSTRAP_SERVERS": brokers,
                "REDIS_HOST": "127.0.0.1",
                "REDIS_PORT": str(redis_port),
            }

        assert _run_check(command, env(f"127.0.0.1:{broker}", redis)) == 0
        assert _run_check(command, env(f"127.0.0.1:{closed},127.0.0.1:{broker}", redis)) == 0
        assert _run_check(command, env(f"127.0.0.1:{closed}", redis)) == 1
        assert _run_check(command, env(f"127.0.0.1:{broker}", closed)) == 1


@pytest.mark.parametrize("role", APPS[1:])
def test_liveness_is_healthz_on_the_metrics_port(manifests: list[Manifest], role: str) -> None:
    config = _config(manifests)
    deployment = _one(manifests, "Deployment", f"qcexec-{role}")
    (container,) = _pod_spec(deployment)["containers"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"metrics": int(config[f"{role.upper()}_METRICS_PORT"])}
    assert config["METRICS_HOST"] == "0.0.0.0"
    for probe in ("startupProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "metrics"}, probe
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(ports["metrics"])
    # The image's default ports are the ConfigMap's, so compose and Kubernetes agree.
    assert _dockerfile_env()[f"{role.upper()}_METRICS_PORT"] == str(ports["metrics"])


def test_api_keys_come_from_a_secret(manifests: list[Manifest]) -> None:
    assert "API_KEYS" not in _config(manifests)
    (container,) = _pod_spec(_one(manifests, "Deployment", "qcexec-api"))["containers"]
    (api_keys,) = [e for e in container["env"] if e["name"] == "API_KEYS"]
    assert api_keys["valueFrom"]["secretKeyRef"] == {"name": "qcexec-api-keys", "key": "API_KEYS"}


class _listening:
    """A TCP port that accepts connections while the block runs; its number."""

    def __enter__(self) -> int:
        self.sock = socket.create_server(("127.0.0.1", 0))
        return self.sock.getsockname()[1]

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


def _closed_port() -> int:
    with _listening() as port:
        pass
    return port


def test_kustomization_lists_every_manifest_file() -> None:
    kustomization = yaml.safe_load((ROOT / "deploy/k8s/kustomization.yaml").read_text())
    files = {p.name for p in (ROOT / "deploy/k8s").glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files


def test_network_policies_let_in_only_the_api_port_and_the_metrics_scrapes(
    manifests: list[Manifest],
) -> None:
    policies = [m for m in manifests if m["kind"] == "NetworkPolicy"]
    pods = [
        m["spec"]["template"]["metadata"]["labels"]
        for m in manifests
        if m["kind"] in ("Deployment", "StatefulSet")
    ]

    def selects(policy: Manifest, labels: dict[str, str]) -> bool:
        selector = policy["spec"]["podSelector"]
        if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
            return False
        return all(
            labels.get(e["key"]) in e["values"] for e in selector.get("matchExpressions", [])
        )

    assert pods and all(any(selects(p, labels) for p in policies) for labels in pods)
    for policy in policies:
        assert policy["spec"]["policyTypes"] == ["Ingress"]
        ports = {port["port"] for rule in policy["spec"]["ingress"] for port in rule["ports"]}
        assert ports <= {8000, 9100}, policy["metadata"]["name"]
