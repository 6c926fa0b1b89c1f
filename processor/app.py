"""The Faust app: consumes ``qc.submitted``, emits one ``qc.results`` record per task."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from typing import Any, cast

import faust
import orjson
from aiokafka.errors import MessageSizeTooLargeError
from faust.types import EventT
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind
from pydantic import ValidationError
from redis.exceptions import RedisError

from processor import deadletters, observe
from processor.consumer import Consumer, use_safe_commits
from processor.control import ControlTable
from processor.credentials import broker_credentials
from processor.execute import execute
from processor.pool import SimulationPool
from processor.scheduler import Entry, Scheduler
from processor.stalls import CHECK_S, StallWatch
from runtime import metrics, retry, telemetry
from runtime.compression import Codec, compressed_size
from runtime.kafka_client import client_options
from runtime.settings import Settings
from runtime.view import TaskView, ViewEntry, result_entry
from schemas.events import (
    RECORD_OVERHEAD,
    Event,
    TaskError,
    TaskResult,
    TaskSubmitted,
)

log = logging.getLogger(__name__)

#: How often the event loop beats the liveness heartbeat and updates the consumer lag.
HEARTBEAT_S = 1.0


def create_app(settings: Settings, pool: SimulationPool, view: TaskView) -> faust.App:
    topics = settings.topics
    app = faust.App(
        settings.processor_id,
        broker=[f"kafka://{server}" for server in settings.kafka_bootstrap_servers.split(",")],
        broker_credentials=broker_credentials(settings),  # KAFKA_SECURITY_PROTOCOL, SASL, TLS
        datadir=settings.processor_data_path,
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=False,
        topic_disable_leader=True,
        topic_replication_factor=settings.qc_topic_replication,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        # aiokafka checks this before compressing; fitted() checks the compressed size.
        producer_max_request_size=settings.max_result_bytes,
        producer_compression_type=settings.qc_compression.producer_option,
        broker_commit_every=100,
        broker_commit_interval=1.0,
        # A task may run for its whole time limit; that is not a stuck stream.
        stream_processing_timeout=settings.qc_task_time_limit_ms / 1000 + 60,
        # aiokafka (0.14) retries a partition's offset lookup after a rebalance against the
        # leader it last knew, without refreshing its metadata, until the next refresh (5 min
        # by default): a broker frozen past a leader change stalled a partition that long
        # (tests/faults/test_cluster.py, the paused broker). A refresh every 10 s bounds that.
        consumer_metadata_max_age_ms=10_000,
    )
    use_safe_commits(app)  # never a commit past a task still running
    submitted = app.topic(topics.submitted, key_type=bytes, value_type=bytes)
    results_topic = app.topic(topics.results, key_type=bytes, value_type=bytes)
    dead_letter = app.topic(topics.dead_letter, key_type=bytes, value_type=bytes)
    name = f"{socket.gethostname()}:{os.getpid()}"
    control = ControlTable(
        settings.kafka_bootstrap_servers, topics.cancellations, options=client_options(settings)
    )
    acking: faust.StreamT

    async def publish(
        topic: faust.TopicT, key: bytes | None, event: Event, value: bytes | None = None
    ) -> None:
        """Publish and wait for the broker's acknowledgement, retrying retryable errors until
        it comes (the submission's offset is committed only after its outcome is on the log);
        a permanent error is raised. ``value`` is the event already encoded, if it was."""
        topic_name = topic.get_topic_name()
        with telemetry.tracer().start_as_current_span(
            f"{topic_name} publish",
            kind=SpanKind.PRODUCER,
            attributes=telemetry.messaging(topic_name, "send"),
        ):
            headers = event.headers(telemetry.trace_headers())
            encoded = value if value is not None else event.encode()

            async def send() -> None:
                await (await topic.send(key=key, value=encoded, headers=headers))

            await retry.call(send, what=f"publish to {topic_name}", log=log)

    async def publish_result(task_id: str, result: TaskResult) -> None:
        """The task's outcome on the log, whatever it is: one that does not fit in a record
        (or that the broker refuses as too large) becomes a ``limit_exceeded`` failure."""
        key = task_id.encode()
        result, value = fitted(result, settings)
        try:
            await publish(results_topic, key, result, value)
        except MessageSizeTooLargeError as exc:
            await publish(
                results_topic, key, _failed(result, f"the broker refused the result: {exc}")
            )
        except Exception as exc:  # permanent: logged with the task, the partition moves on
            metrics.processor_publish_failures.labels("result").inc()
            log.error("task %s: result not published: %r", task_id, exc, extra={"task_id": task_id})

    async def publish_results(
        results: list[tuple[TaskResult, Span]],
    ) -> list[ViewEntry]:
        """Every result of a job sent (each in a span of its task's trace), then one wait for
        all their acknowledgements; a result the broker did not take goes again alone
        (retried, or failed as too large). Returns the view's entries of the outcomes the
        broker acknowledged at the first try, as they are on the log: built while the broker
        is acknowledging them (a sweep's document is a few milliseconds of work)."""
        sent: list[tuple[TaskResult, Any]] = []
        topic_name = results_topic.get_topic_name()
        for result, parent in results:
            fitting, value = fitted(result, settings)
            with telemetry.tracer().start_as_current_span(
                f"{topic_name} publish",
                context=trace.set_span_in_context(parent),
                kind=SpanKind.PRODUCER,
                attributes=telemetry.messaging(topic_name, "send"),
            ):
                headers = fitting.headers(telemetry.trace_headers())
                try:
                    pending: Any = await results_topic.send(
                        key=result.task_id.encode(), value=value, headers=headers
                    )
                except Exception as exc:  # not even queued: sent again alone below
                    sent.append((result, exc))
                    continue
            sent.append((fitting, pending))
        acks = asyncio.gather(
            *(pending for _, pending in sent if isinstance(pending, asyncio.Future)),
            return_exceptions=True,
        )
        entries = [
            result_entry(result) if isinstance(pending, asyncio.Future) else None
            for result, pending in sent
        ]
        outcomes = iter(await acks)
        acknowledged: list[ViewEntry] = []
        for (result, pending), entry in zip(sent, entries, strict=True):
            outcome = next(outcomes) if isinstance(pending, asyncio.Future) else pending
            if isinstance(outcome, BaseException) or entry is None:
                await publish_result(result.task_id, result)
            else:
                acknowledged.append(entry)
        return acknowledged

    async def write_through(entries: list[ViewEntry]) -> None:
        """Outcomes the broker acknowledged, written to the view at once: a client waiting
        for one sees it without the materializer's hop (which writes it from the log too, so
        a failure here loses nothing)."""
        if not entries:
            return
        try:
            await view.apply_batch(entries, {})
        except (RedisError, OSError) as exc:
            log.warning("%d outcome(s) not written through: %r", len(entries), exc)

    async def dead_letter_record(event: EventT, exc: Exception) -> None:
        message = event.message
        log.warning(
            "undecodable record %s[%d]@%d sent to %s: %s",
            message.topic,
            message.partition,
            message.offset,
            topics.dead_letter,
            exc,
        )
        metrics.processor_tasks.labels("dead_letter").inc()
        try:
            await publish(dead_letter, message.key, deadletters.dead_letter(message, str(exc)))
        except Exception as error:  # permanent: logged, the partition moves on
            metrics.processor_publish_failures.labels("dead_letter").inc()
            log.error("dead letter not published: %r", error)
        # Its task still ends: no 202 is left pending, whatever reached the log.
        failed = deadletters.invalid_record_result(message, str(exc), name)
        if failed is not None:
            await publish_result(failed.task_id, failed)

    async def run_job(job: list[Entry]) -> None:
        """A job of the scheduler: its tasks run, their results on the log, their records
        acknowledged (only now may a commit pass them)."""
        # Each task's trace goes on from the API's record (its traceparent header).
        with (
            observe.processing([entry.event.message for entry in job]) as spans,
            metrics.processor_in_flight.track_inprogress(),
        ):
            results = await execute([entry.task for entry in job], pool, name, view, control)
            published: list[tuple[TaskResult, Span]] = []
            for entry, span, result in zip(job, spans, results, strict=True):
                observe.count_outcome(entry.task, result)
                if result is not None:
                    log.info(
                        "task %s %s in %.1f ms",
                        entry.task.task_id,
                        result.status,
                        result.duration_ms,
                        extra=_about(entry.task),
                    )
                    published.append((result, span))
            await write_through(await publish_results(published))
        for entry in job:
            await acking.ack(entry.event)

    scheduler = Scheduler(
        run_job,
        workers=pool.workers,
        lookahead=settings.processor_lookahead,
        lookahead_bytes=settings.processor_lookahead_bytes,
        batch_max=settings.processor_batch_max,
        heavy_work=settings.processor_heavy_work,
        heavy_slots=settings.heavy_slots,
        half_life_s=settings.processor_fair_half_life_s,
        before_start=control.catch_up,
    )
    scheduler.stale = lambda entry: entry.event.message.generation_id != app.consumer_generation_id
    app.scheduler = scheduler  # type: ignore[attr-defined]
    stalls = StallWatch(app, lambda: scheduler.has_room)

    @app.agent(submitted, concurrency=1)
    async def take_tasks(stream: faust.StreamT) -> None:
        """Records into the scheduler's look-ahead, unacknowledged until their task ends."""
        nonlocal acking
        acking = cast(Any, stream).noack()  # manual acknowledgements (not in StreamT)
        consumer = cast(Consumer, app.consumer)
        consumer.give_back = scheduler.give_back
        consumer.running = scheduler.running_events
        async for event in acking.events():
            stalls.read(event.message.tp, event.message.offset)
            try:
                task = TaskSubmitted.decode(event.message.value or b"")
            except (orjson.JSONDecodeError, ValidationError, TypeError) as exc:
                await dead_letter_record(event, exc)
                await acking.ack(event)
                continue
            size = len(event.message.value or b"")
            await scheduler.put(scheduler.entry(event, task, size))

    @app.task
    async def schedule() -> None:
        await scheduler.run()

    @app.task
    async def read_control() -> None:
        """Every processor reads every cancellation: the table of what must not run, and
        the tasks to stop wherever they run."""
        await control.run()

    async def on_assigned(sender: object, *args: object, **kwargs: Any) -> None:
        control.rebalanced()

    app.on_partitions_assigned.connect(on_assigned)  # type: ignore[arg-type]

    @app.timer(interval=CHECK_S)
    async def watch_partitions() -> None:
        """A partition left unread while records wait on it: described and read again."""
        await stalls.check()

    @app.timer(interval=HEARTBEAT_S)
    async def heartbeat() -> None:
        """The liveness signal (/healthz) and the consumer lag, from the event loop."""
        metrics.HEARTBEAT.beat()
        metrics.set_lag(metrics.processor_lag, await observe.processor_lags(app))

    return app


def _about(task: TaskSubmitted) -> dict[str, str]:
    return {"task_id": task.task_id}


def _failed(result: TaskResult, message: str) -> TaskResult:
    error = TaskError(code="limit_exceeded", message=message)
    return result.model_copy(
        update={"status": "failed", "counts": None, "memory": None, "results": None, "error": error}
    )


def fitted(result: TaskResult, settings: Settings) -> tuple[TaskResult, bytes]:
    """The result and its encoding, or a ``limit_exceeded`` failure saying its size (and
    that failure's encoding) when it does not fit in a record: QC_MAX_RECORD_BYTES as the
    broker keeps it (compressed, QC_COMPRESSION), and QC_MAX_RESULT_BYTES before that. The
    compressed size is measured only for a result larger than a record (the rare case)."""
    value = result.encode()
    limit, codec = settings.qc_max_record_bytes, settings.qc_compression
    size = len(value) + RECORD_OVERHEAD
    if size <= limit:
        return result, value
    if size <= settings.max_result_bytes and codec is not Codec.NONE:
        compressed = compressed_size(value, codec) + RECORD_OVERHEAD
        if compressed <= limit:
            return result, value
        why = f"{size} bytes, {compressed} once compressed ({codec.value})"
    else:
        why = f"{size} bytes"
    failed = _failed(
        result,
        f"the result takes {why}; a record may take at most {limit} (QC_MAX_RECORD_BYTES"
        + (
            f", compressed; {settings.max_result_bytes} before, QC_MAX_RESULT_BYTES"
            if codec is not Codec.NONE
            else ""
        )
        + "): ask for fewer shots, or no memory",
    )
    return failed, failed.encode()
