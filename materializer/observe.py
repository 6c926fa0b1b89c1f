"""Metrics, spans and log lines of the materializer, kept out of its main loop
(docs/operations.md, "Observe")."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from opentelemetry.trace import Span, SpanKind, StatusCode
from redis.exceptions import RedisError

from runtime import metrics, telemetry
from runtime.view import TaskView
from schemas.topics import Topics

materializer_log = logging.getLogger("materializer")


@contextlib.contextmanager
def view_write(batch: dict[TopicPartition, list[ConsumerRecord]], topics: Topics) -> Iterator[None]:
    """Around the write of one batch to the view: a span per record, in the trace its headers
    name (the task's), the batch's metrics, and a log line per outcome written."""
    tracer = telemetry.tracer()
    start_ns, clock = time.time_ns(), time.perf_counter()
    spans: list[tuple[str, ConsumerRecord, Span]] = []
    for tp, records in batch.items():
        attributes = telemetry.messaging(tp.topic, "process")
        attributes["messaging.destination.partition.id"] = str(tp.partition)
        for record in records:
            task_id = record.key.decode(errors="replace") if record.key else ""
            span = tracer.start_span(
                f"{tp.topic} write",
                context=telemetry.context_from_headers(record.headers),
                kind=SpanKind.CONSUMER,
                attributes=attributes
                | {"messaging.kafka.offset": record.offset, "qcexec.task_id": task_id},
                start_time=start_ns,
            )
            spans.append((tp.topic, record, span))
    try:
        yield
    except BaseException as exc:
        for _, _, span in spans:
            span.set_status(StatusCode.ERROR, f"not written: {type(exc).__name__}")
            span.end()
        raise
    metrics.materializer_write_duration.observe(time.perf_counter() - clock)
    for tp, records in batch.items():
        metrics.materializer_records.labels(tp.topic).inc(len(records))
    for topic, record, span in spans:
        span.end()
        if topic == topics.results and record.key:
            task_id = record.key.decode(errors="replace")
            extra = {"task_id": task_id, **telemetry.ids(span)}
            materializer_log.info("task %s: outcome applied to the view", task_id, extra=extra)


async def track_lag(consumer: AIOKafkaConsumer, every_s: float = 1.0) -> None:
    """Keep the materializer's lag gauge: per partition, high watermark minus position."""
    while True:
        lags: dict[tuple[str, int], int] = {}
        for tp in consumer.assignment():
            try:
                highwater = consumer.highwater(tp)
                position = await asyncio.wait_for(consumer.position(tp), timeout=every_s)
            except Exception:  # revoked, or no position yet
                continue
            if highwater is not None:
                lags[(tp.topic, tp.partition)] = highwater - position
        metrics.set_lag(metrics.materializer_lag, lags)
        await asyncio.sleep(every_s)


async def track_oldest_waiting(view: TaskView, every_s: float = 15.0) -> None:
    """Keep the gauge of the oldest task accepted and not yet terminal (an alert watches it:
    a task left pending)."""
    while True:
        try:
            oldest = await view.oldest_waiting()
        except (RedisError, OSError):  # the view is away: the lag alerts say so
            oldest = None
        metrics.materializer_oldest_waiting.set(0 if oldest is None else time.time() - oldest)
        await asyncio.sleep(every_s)
