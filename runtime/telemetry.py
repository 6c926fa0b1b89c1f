"""Traces: one OpenTelemetry tracer provider per process, and the W3C trace context that
carries a task's trace across the log (record headers, see ``schemas.events.Event.headers``).

Exporters follow the standard variables, with one difference: nothing is exported unless asked.

- ``OTEL_TRACES_EXPORTER``: comma-separated ``otlp`` (OTLP over HTTP/protobuf), ``console``,
  ``none``. Unset: ``otlp`` when ``OTEL_EXPORTER_OTLP_ENDPOINT`` or
  ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is set, else nothing.
- the OTLP exporter reads its own ``OTEL_EXPORTER_OTLP_*`` variables (endpoint, headers, ...);
  ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES`` name the service (default
  ``qcexec-<role>``), ``OTEL_TRACES_SAMPLER`` samples, ``OTEL_SDK_DISABLED=true`` turns it all off.
- ``TRACES_FILE`` (a setting): every finished span also appended to a file as one JSON line.

Without an exporter spans are still made: trace ids then reach the logs and the records, so a
task can be followed across the services by its ``trace_id``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

import orjson
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)

if TYPE_CHECKING:
    from runtime.settings import Settings

log = logging.getLogger(__name__)

TRACER_NAME = "qcexec"

#: Record headers as Kafka clients give them: (name, value) pairs, or a mapping.
Headers = Sequence[tuple[str, bytes | str | None]] | Mapping[str, bytes | str | None] | None


def service_name(role: str) -> str:
    return os.environ.get("OTEL_SERVICE_NAME") or f"qcexec-{role}"


def exporter_names(environ: Mapping[str, str] = os.environ) -> list[str]:
    """The span exporters asked for by the environment (see the module's docstring)."""
    names = environ.get("OTEL_TRACES_EXPORTER")
    if names is None:
        endpoint = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or environ.get(
            "OTEL_EXPORTER_OTLP_ENDPOINT"
        )
        return ["otlp"] if endpoint else []
    return [name.strip() for name in names.split(",") if name.strip() not in ("", "none")]


def _exporter(name: str) -> SpanExporter | None:
    if name == "otlp":
        protocol = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or os.environ.get(
            "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
        )
        if protocol != "http/protobuf":
            log.warning("OTLP protocol %s is not installed; using http/protobuf", protocol)
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    if name == "console":
        return ConsoleSpanExporter()
    log.warning("unknown trace exporter %r ignored (OTEL_TRACES_EXPORTER)", name)
    return None


def setup_tracing(settings: Settings, role: str) -> TracerProvider | None:
    """Install this process's tracer provider; None when OTEL_SDK_DISABLED is true or when
    nothing would receive the spans (no exporter, no TRACES_FILE): then OpenTelemetry's no-op
    tracer records nothing and costs nothing, and a client's ``traceparent`` still travels
    with the task (in the records' headers and the log lines)."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    exporters = [found for found in map(_exporter, exporter_names()) if found is not None]
    if not exporters and not settings.traces_file:
        return None
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name(role)}))
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    if settings.traces_file:
        provider.add_span_processor(
            SimpleSpanProcessor(JsonLinesSpanExporter(settings.traces_file))
        )
    trace.set_tracer_provider(provider)
    return provider


def tracing_on() -> bool:
    """Whether this process installed a tracer provider (:func:`setup_tracing`)."""
    return isinstance(trace.get_tracer_provider(), TracerProvider)


def messaging(topic: str, operation: str) -> dict[str, str]:
    """The OpenTelemetry messaging attributes of a span about a record of ``topic``."""
    return {
        "messaging.system": "kafka",
        "messaging.operation.type": operation,
        "messaging.destination.name": topic,
    }


@cache
def tracer() -> trace.Tracer:
    """One tracer per process: ``get_tracer`` reads the environment on every call. (Before the
    provider is installed it is a proxy that follows the provider once there is one.)"""
    return trace.get_tracer(TRACER_NAME)


def trace_headers() -> dict[str, str]:
    """The current span's W3C trace context, for a record's headers (empty without a span)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def context_from_headers(headers: Headers) -> Context:
    """The trace context a record carries (an empty context when it carries none)."""
    items: Iterable[tuple[str, Any]] = (
        headers.items() if isinstance(headers, Mapping) else (headers or ())
    )
    carrier = {
        name.lower(): value.decode(errors="replace") if isinstance(value, bytes) else value
        for name, value in items
        if value is not None
    }
    return propagate.extract(carrier)


def ids(span: trace.Span | None = None) -> dict[str, str]:
    """``trace_id`` and ``span_id`` of a span (the current one by default), as hex; empty when
    there is none."""
    context = (span or trace.get_current_span()).get_span_context()
    if not context.is_valid:
        return {}
    return {
        "trace_id": trace.format_trace_id(context.trace_id),
        "span_id": trace.format_span_id(context.span_id),
    }


def span_record(span: ReadableSpan) -> dict[str, Any]:
    """A finished span as a flat JSON-able dict (what :class:`JsonLinesSpanExporter` writes)."""
    context = span.get_span_context()
    if context is None:
        return {"name": span.name}
    parent = span.parent
    return {
        "name": span.name,
        "service": span.resource.attributes.get(SERVICE_NAME),
        "trace_id": trace.format_trace_id(context.trace_id),
        "span_id": trace.format_span_id(context.span_id),
        "parent_id": trace.format_span_id(parent.span_id) if parent else None,
        "kind": span.kind.name,
        "start_ns": span.start_time,
        "end_ns": span.end_time,
        "status": span.status.status_code.name,
        "attributes": dict(span.attributes or {}),
    }


class JsonLinesSpanExporter(SpanExporter):
    """Appends one JSON object per finished span to a file. Each line is a single ``write`` to
    a file opened for appending, so processes can share the file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._fd is None:
            return SpanExportResult.FAILURE
        for span in spans:
            os.write(self._fd, orjson.dumps(span_record(span), default=str) + b"\n")
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True
