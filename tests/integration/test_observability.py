"""Traces, metrics, logs and liveness of the running service, on the real broker and Redis.

The stack writes its spans to a file (TRACES_FILE) and its logs as JSON lines; the processor
and the materializer serve /metrics and /healthz on ports of their own."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from deploy.processes import free_port
from tests.helpers import read_topic, wait_for
from tests.stack import MakeStack, Stack

API, PROCESSOR, MATERIALIZER = "qcexec-api", "qcexec-processor", "qcexec-materializer"


@dataclass
class Observed:
    stack: Stack
    spans_file: Path
    processor_url: str
    materializer_url: str

    def spans(self, trace_id: str) -> list[dict[str, Any]]:
        if not self.spans_file.exists():
            return []
        lines = self.spans_file.read_bytes().splitlines()
        return [span for span in map(orjson.loads, lines) if span["trace_id"] == trace_id]

    def submit_traced(self, qc: str, **fields: object) -> tuple[str, str, str]:
        """Submit with a client's traceparent; (task id, trace id, the client's span id)."""
        trace_id, parent = secrets.token_hex(16), secrets.token_hex(8)
        response = self.stack.client.post(
            "/tasks",
            json={"qc": qc, **fields},
            headers={"traceparent": f"00-{trace_id}-{parent}-01"},
        )
        assert response.status_code == 202, response.text
        return response.json()["task_id"], trace_id, parent


@pytest.fixture(scope="module")
def observed(make_stack: MakeStack, tmp_path_factory: pytest.TempPathFactory) -> Observed:
    spans_file = tmp_path_factory.mktemp("observed") / "spans.jsonl"
    processor_port, materializer_port = free_port(), free_port()
    stack = make_stack(
        PROCESSOR_METRICS_PORT=str(processor_port),
        MATERIALIZER_METRICS_PORT=str(materializer_port),
        TRACES_FILE=str(spans_file),
        LOG_FORMAT="json",
        OTEL_TRACES_EXPORTER="none",
        OTEL_SDK_DISABLED="false",
    )
    return Observed(
        stack,
        spans_file,
        f"http://127.0.0.1:{processor_port}",
        f"http://127.0.0.1:{materializer_port}",
    )


# --- traces -------------------------------------------------------------------------------


def test_one_trace_from_the_request_to_the_view(observed: Observed, bell: str) -> None:
    stack, topics = observed.stack, observed.stack.topics
    task_id, trace_id, client_span = observed.submit_traced(bell, shots=100)
    assert stack.wait_terminal(task_id)["status"] == "completed"

    def named(spans: list[dict[str, Any]], service: str, name: str) -> list[dict[str, Any]]:
        return [s for s in spans if s["service"] == service and s["name"] == name]

    def whole() -> list[dict[str, Any]] | None:
        spans = observed.spans(trace_id)
        last = named(spans, MATERIALIZER, f"{topics.results} write")
        first = named(spans, API, "POST /tasks")
        return spans if last and first else None

    spans = wait_for(whole, 60, f"the spans of trace {trace_id}")
    assert {span["service"] for span in spans} == {API, PROCESSOR, MATERIALIZER}

    (server,) = named(spans, API, "POST /tasks")
    assert server["kind"] == "SERVER"
    assert server["parent_id"] == client_span, "the client's traceparent is the parent"
    (submit,) = named(spans, API, f"{topics.submitted} publish")
    assert submit["kind"] == "PRODUCER" and submit["parent_id"] == server["span_id"]

    processed = named(spans, PROCESSOR, f"{topics.submitted} process")
    assert processed, "the processor's span"
    for process in processed:  # once, unless a rebalance handed the record over
        assert process["kind"] == "CONSUMER" and process["parent_id"] == submit["span_id"]
        assert process["attributes"]["qcexec.task_id"] == task_id
    process_ids = {process["span_id"] for process in processed}
    runs = named(spans, PROCESSOR, "run")
    assert runs and all(run["parent_id"] in process_ids for run in runs)
    run_ids = {run["span_id"] for run in runs}
    for phase in ("parse", "simulate"):
        (span, *_) = named(spans, PROCESSOR, phase)
        assert span["parent_id"] in run_ids, phase
    (parse, *_), (simulate, *_) = (
        named(spans, PROCESSOR, "parse"),
        named(spans, PROCESSOR, "simulate"),
    )
    assert parse["end_ns"] <= simulate["start_ns"] + 1
    published = named(spans, PROCESSOR, f"{topics.results} publish")
    assert published and all(p["parent_id"] in process_ids for p in published)

    (queued, *_) = named(spans, MATERIALIZER, f"{topics.submitted} write")
    assert queued["parent_id"] == submit["span_id"]
    written = named(spans, MATERIALIZER, f"{topics.results} write")
    published_ids = {p["span_id"] for p in published}
    assert all(w["parent_id"] in published_ids for w in written)
    assert all(w["attributes"]["qcexec.task_id"] == task_id for w in written)

    # Every span of the trace hangs from the client's span, through spans of the trace.
    ids = {span["span_id"] for span in spans}
    assert all(span["parent_id"] in ids | {client_span} for span in spans)

    # The trace context travels in the records' headers.
    for topic in (topics.submitted, topics.results):
        (record, *_) = [
            r
            for r in read_topic(stack.services.kafka_bootstrap, topic)
            if r.key == task_id.encode()
        ]
        traceparent = dict(record.headers)["traceparent"].decode()
        assert traceparent.split("-")[1] == trace_id, topic


# --- metrics and liveness -----------------------------------------------------------------


def scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = httpx.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def labelled(samples: dict, name: str) -> dict[frozenset[tuple[str, str]], float]:
    return {labels: v for (n, labels), v in samples.items() if n == name}


def test_metrics_move_after_a_few_tasks(observed: Observed, bell: str) -> None:
    stack, topics = observed.stack, observed.stack.topics
    urls = {"api": stack.url, "processor": observed.processor_url}
    urls["materializer"] = observed.materializer_url
    before = {role: scrape(url) for role, url in urls.items()}
    tasks = [stack.submit(bell, shots=50, seed=seed) for seed in range(3)]
    assert all(stack.wait_terminal(task)["status"] == "completed" for task in tasks)

    def moved(role: str, name: str, by: int, **labels: str):
        def check() -> dict | None:
            now = scrape(urls[role])
            grown = value(now, name, **labels) - value(before[role], name, **labels)
            return now if grown >= by else None

        return wait_for(check, 60, f"{role}: {name}{labels} to grow by {by}")

    api = moved("api", "qcexec_api_requests_total", 3, method="POST", route="/tasks", code="202")
    assert value(
        api, "qcexec_api_requests_total", method="GET", route="/tasks/{task_id}", code="200"
    )
    grown = value(api, "qcexec_api_submit_duration_seconds_count", outcome="accepted") - value(
        before["api"], "qcexec_api_submit_duration_seconds_count", outcome="accepted"
    )
    assert grown >= 3
    assert value(api, "qcexec_api_request_duration_seconds_count", method="POST", route="/tasks")
    assert all(
        "/tasks/" + task not in str(labels)
        for labels in labelled(api, "qcexec_api_requests_total")
        for task in tasks
    )

    processor = moved("processor", "qcexec_processor_tasks_total", 3, outcome="completed")
    for phase in ("parse", "simulate"):
        count = value(processor, "qcexec_processor_simulation_seconds_count", phase=phase)
        assert (
            count
            - value(before["processor"], "qcexec_processor_simulation_seconds_count", phase=phase)
            >= 3
        ), phase
    assert ("qcexec_processor_tasks_in_flight", frozenset()) in processor
    assert value(processor, "qcexec_processor_queue_seconds_count") >= 3

    materializer = moved(
        "materializer", "qcexec_materializer_records_total", 3, topic=topics.results
    )
    assert value(materializer, "qcexec_materializer_records_total", topic=topics.submitted) >= 3
    assert value(materializer, "qcexec_materializer_write_seconds_count") >= 1

    # Consumer lag per partition, back to zero once everything is done.
    partitions = {
        "processor": {(topics.submitted, str(p)) for p in range(3)},
        "materializer": {(t, str(p)) for t in topics.view_sources() for p in range(3)},
    }
    for role, expected in partitions.items():

        def caught_up(role: str = role, expected: set = expected) -> bool:
            lags = labelled(scrape(urls[role]), "qcexec_consumer_lag")
            seen = {
                (dict(labels)["topic"], dict(labels)["partition"]): lag
                for labels, lag in lags.items()
            }
            return set(seen) == expected and not any(seen.values())

        wait_for(caught_up, 60, f"{role}: lag 0 on every partition")


@pytest.mark.parametrize("role", ["processor", "materializer"])
def test_liveness_endpoint(observed: Observed, role: str) -> None:
    url = observed.processor_url if role == "processor" else observed.materializer_url
    response = httpx.get(f"{url}/healthz", timeout=10)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert httpx.get(f"{url}/nothing", timeout=10).status_code == 404


# --- logs ---------------------------------------------------------------------------------


def test_json_logs_carry_task_and_trace_ids(observed: Observed, bell: str) -> None:
    stack = observed.stack
    task_id, trace_id, _ = observed.submit_traced(bell, shots=20)
    stack.wait_terminal(task_id)
    logs = {API: stack.api, PROCESSOR: stack.processors[0], MATERIALIZER: stack.materializer}

    def lines(service: str) -> list[dict[str, Any]]:
        path = logs[service].log_path
        assert path is not None
        raw = [line for line in path.read_bytes().splitlines() if line.strip()]
        parsed = []
        for line in raw:
            try:
                parsed.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                pytest.fail(f"{service}: not a JSON line: {line[:200]!r}")
        return parsed

    def about_task(service: str) -> list[dict[str, Any]] | None:
        found = [line for line in lines(service) if line.get("task_id") == task_id]
        return found or None

    for service in (API, PROCESSOR, MATERIALIZER):
        found = wait_for(lambda s=service: about_task(s), 60, f"{service}: a line about the task")
        assert all(line["service"] == service for line in found)
        assert all(line.get("trace_id") for line in found), service
        assert trace_id in {line["trace_id"] for line in found}, service
        assert all({"time", "level", "logger", "message"} <= set(line) for line in lines(service))
        # Every line that names the task says so in task_id.
        naming = [line for line in lines(service) if task_id in line["message"]]
        assert naming and all(line.get("task_id") == task_id for line in naming), service
