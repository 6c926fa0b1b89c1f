"""Metrics, spans and log lines of the processor, kept out of its main loop
(docs/operations.md, "Observe")."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import faust
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind

from runtime import metrics, telemetry
from runtime.logsetup import task_context
from schemas.events import TaskResult, TaskSubmitted


def processing_span(message: faust.types.Message) -> Span:
    """The processor's span of one ``qc.submitted`` record (started; the caller ends it), a
    child of the span that published it (its ``traceparent`` header): each task of a batch
    keeps its own trace."""
    task_id = message.key.decode(errors="replace") if isinstance(message.key, bytes) else ""
    attributes: dict[str, Any] = telemetry.messaging(message.topic, "process") | {
        "messaging.destination.partition.id": str(message.partition),
        "messaging.kafka.offset": message.offset,
        "qcexec.task_id": task_id,
    }
    return telemetry.tracer().start_span(
        f"{message.topic} process",
        context=telemetry.context_from_headers(message.headers),
        kind=SpanKind.CONSUMER,
        attributes=attributes,
    )


@contextlib.contextmanager
def processing(messages: list[faust.types.Message]) -> Iterator[list[Span]]:
    """The spans of a job's records, the first one current (the job's own spans, a run or a
    batch's run, hang from it); lines logged inside are about the first task."""
    spans = [processing_span(message) for message in messages]
    first = messages[0]
    task_id = first.key.decode(errors="replace") if isinstance(first.key, bytes) else ""
    try:
        with trace.use_span(spans[0], end_on_exit=False), task_context(task_id):
            yield spans
    finally:
        for span in spans:
            span.end()


def count_outcome(task: TaskSubmitted, result: TaskResult | None) -> None:
    """A task's outcome in the processor's metrics (None: already known, not run again)."""
    if result is None:
        metrics.processor_tasks.labels("duplicate").inc()
        return
    metrics.processor_tasks.labels(result.status).inc()
    if result.error is not None:
        metrics.processor_task_errors.labels(result.error.code).inc()
    metrics.processor_task_duration.observe(result.duration_ms / 1000)
    if result.started_at is not None:
        waited = (result.started_at - task.submitted_at).total_seconds()
        metrics.processor_queue_time.observe(max(waited, 0.0))


async def processor_lags(app: faust.App, timeout_s: float = 1.0) -> dict[tuple[str, int], int]:
    """Per partition of this processor: the high watermark minus the group's committed offset
    (before the first commit: minus the next offset to read)."""
    lags: dict[tuple[str, int], int] = {}
    try:
        assigned = app.consumer.assignment()
    except Exception:  # not started yet, or between generations of the group
        return lags
    committed, read = app.monitor.tp_committed_offsets, app.monitor.tp_read_offsets
    for tp in assigned:
        try:
            highwater = app.consumer.highwater(tp)
            done = committed.get(tp)
            if done is None and read.get(tp) is not None:
                done = read[tp] + 1
            if done is None:  # nothing read here yet: where reading will start
                done = await asyncio.wait_for(app.consumer.position(tp), timeout_s)
        except Exception:  # revoked meanwhile, or no position yet
            continue
        if highwater is not None and done is not None:
            lags[(tp.topic, tp.partition)] = highwater - done
    return lags
