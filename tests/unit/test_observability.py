"""The pieces of observability on their own: trace context in record headers, the span file,
exporter choice, log formats, the metrics server and its liveness, the health check command.
(tests/integration/test_observability.py checks them on the running service.)"""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator

import httpx
import orjson
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from prometheus_client import CollectorRegistry, Counter, Gauge

from runtime import health, metrics, telemetry
from runtime.logsetup import JsonFormatter, TextFormatter, json_logs, task_context
from schemas.events import TaskSubmitted, utcnow

SUBMITTED = TaskSubmitted(
    task_id="t-1", qasm="OPENQASM 3.0;", shots=1, seed=0, submitted_at=utcnow()
)


@pytest.fixture
def tracer() -> trace.Tracer:
    """A tracer of a provider of its own (the global one can be set only once a process)."""
    return TracerProvider().get_tracer("test")


def test_headers_carry_the_trace_context_across(tracer: trace.Tracer) -> None:
    assert [name for name, _ in SUBMITTED.headers()] == ["content-type", "schema"]
    with tracer.start_as_current_span("publish") as span:
        headers = SUBMITTED.headers(telemetry.trace_headers())
    names = [name for name, _ in headers]
    assert names[:2] == ["content-type", "schema"] and "traceparent" in names
    sent = span.get_span_context()
    # What the consumer side makes of them: a parent with the same ids, from another process.
    received = trace.get_current_span(telemetry.context_from_headers(headers)).get_span_context()
    assert (received.trace_id, received.span_id) == (sent.trace_id, sent.span_id)
    assert received.is_remote
    as_mapping = telemetry.context_from_headers(dict(headers))
    assert trace.get_current_span(as_mapping).get_span_context().trace_id == sent.trace_id
    assert (
        not trace.get_current_span(telemetry.context_from_headers(None)).get_span_context().is_valid
    )


def test_no_trace_headers_without_a_span() -> None:
    assert telemetry.trace_headers() == {}
    assert [name for name, _ in SUBMITTED.headers(telemetry.trace_headers())] == [
        "content-type",
        "schema",
    ]


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, []),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, ["otlp"]),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, ["otlp"]),
        ({"OTEL_TRACES_EXPORTER": "console"}, ["console"]),
        ({"OTEL_TRACES_EXPORTER": "otlp, console"}, ["otlp", "console"]),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c"}, []),
    ],
)
def test_exporters_follow_the_otel_variables(environ: dict[str, str], expected: list[str]) -> None:
    assert telemetry.exporter_names(environ) == expected


def test_span_file_has_one_json_line_per_span_with_its_parent(tmp_path) -> None:
    path = tmp_path / "spans.jsonl"
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(telemetry.JsonLinesSpanExporter(str(path))))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("outer") as outer, tracer.start_as_current_span("inner"):
        pass
    provider.shutdown()
    inner, outer_line = map(orjson.loads, path.read_bytes().splitlines())
    assert (inner["name"], outer_line["name"]) == ("inner", "outer")
    assert inner["parent_id"] == outer_line["span_id"] and outer_line["parent_id"] is None
    assert inner["trace_id"] == telemetry.ids(outer)["trace_id"]
    assert inner["start_ns"] <= inner["end_ns"]


# --- logs ---------------------------------------------------------------------------------


def _record(message: str, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("qcexec.test", logging.INFO, __file__, 1, message, (), None)
    record.__dict__.update(extra)
    return record


def test_json_line_has_the_task_and_the_trace(tracer: trace.Tracer) -> None:
    formatter = JsonFormatter("qcexec-processor")
    with tracer.start_as_current_span("run") as span, task_context("t-7"):
        line = orjson.loads(formatter.format(_record("hello", shots=10)))
    assert line["message"] == "hello" and line["level"] == "INFO"
    assert line["service"] == "qcexec-processor" and line["logger"] == "qcexec.test"
    assert line["task_id"] == "t-7" and line["shots"] == 10
    assert line["trace_id"] == telemetry.ids(span)["trace_id"]
    outside = orjson.loads(formatter.format(_record("idle")))
    assert "task_id" not in outside and "trace_id" not in outside
    given = orjson.loads(formatter.format(_record("x", task_id="t-8", trace_id="ab" * 16)))
    assert (given["task_id"], given["trace_id"]) == ("t-8", "ab" * 16)


def test_json_line_keeps_the_traceback_on_one_line() -> None:
    try:
        raise ValueError("bad")
    except ValueError:
        record = _record("failed")
        record.exc_info = sys.exc_info()
    text = JsonFormatter("qcexec-api").format(record)
    assert "\n" not in text
    assert "ValueError: bad" in orjson.loads(text)["exception"]


def test_text_line_names_the_task() -> None:
    with task_context("t-9"):
        line = TextFormatter().format(_record("done"))
    assert line.endswith("INFO qcexec.test done [task_id=t-9]")
    assert "[" not in TextFormatter().format(_record("idle"))


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_log_format_auto_is_json_unless_on_a_terminal() -> None:
    assert json_logs("auto", io.StringIO()) and not json_logs("auto", _Terminal())
    assert json_logs("json", _Terminal()) and not json_logs("text", io.StringIO())


# --- metrics and liveness -----------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[metrics.MetricsServer]:
    registry = CollectorRegistry()
    Counter("qcexec_test_things", "Things.", registry=registry).inc(3)
    running = metrics.MetricsServer(registry, "127.0.0.1", 0, 5.0, metrics.Heartbeat()).start()
    yield running
    running.stop()


def test_metrics_server_serves_the_registry(server: metrics.MetricsServer) -> None:
    response = httpx.get(f"http://127.0.0.1:{server.port}/metrics")
    assert response.status_code == 200
    assert "qcexec_test_things_total 3.0" in response.text
    assert httpx.get(f"http://127.0.0.1:{server.port}/other").status_code == 404


def test_healthz_fails_once_the_loop_stops_ticking(server: metrics.MetricsServer) -> None:
    url = f"http://127.0.0.1:{server.port}/healthz"
    assert httpx.get(url).json()["status"] == "ok"
    server.heartbeat._last -= 6.0  # as if the loop had not ticked for 6 s (timeout 5 s)
    stalled = httpx.get(url)
    assert stalled.status_code == 503 and stalled.json()["status"] == "stalled"
    server.heartbeat.beat()
    assert httpx.get(url).status_code == 200


def test_health_command(server: metrics.MetricsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    port = str(server.port)
    monkeypatch.setenv("API_PORT", "1")  # nothing listens there
    monkeypatch.setenv("PROCESSOR_METRICS_PORT", port)
    monkeypatch.delenv("MATERIALIZER_METRICS_PORT", raising=False)
    assert health.main(["processor"]) == 0
    assert health.main([]) == 0, "any role that answers"
    assert health.main(["materializer"]) == 1, "its port is not set"
    assert health.main(["api"]) == 1
    assert health.main(["bogus"]) == 2
    server.heartbeat._last -= 6.0
    assert health.main(["processor"]) == 1


def test_lag_gauge_forgets_partitions_no_longer_assigned() -> None:
    registry = CollectorRegistry()
    gauge = Gauge("lag", "Lag.", ["topic", "partition"], registry=registry)
    metrics.set_lag(gauge, {("qc.submitted", 0): 4, ("qc.submitted", 1): -1})
    assert registry.get_sample_value("lag", {"topic": "qc.submitted", "partition": "0"}) == 4
    assert registry.get_sample_value("lag", {"topic": "qc.submitted", "partition": "1"}) == 0
    metrics.set_lag(gauge, {("qc.submitted", 1): 2})
    assert registry.get_sample_value("lag", {"topic": "qc.submitted", "partition": "0"}) is None
