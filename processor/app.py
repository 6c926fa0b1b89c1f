"""The Faust app: consumes ``qc.submitted``, emits one ``qc.results`` record per task."""

from __future__ import annotations

import logging
import os
import socket

import faust
import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import MessageSizeTooLargeError
from faust.types import EventT
from opentelemetry.trace import SpanKind
from pydantic import ValidationError

from processor import deadletters, observe
from processor.consumer import use_safe_commits
from processor.execute import Cancellations, execute
from processor.pool import SimulationPool
from qcexec import metrics, retry, telemetry
from qcexec.settings import Settings
from qcexec.view import TaskView
from schemas.events import (
    RECORD_OVERHEAD,
    Event,
    TaskCancelRequested,
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
        datadir=settings.processor_data_path,
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=False,
        topic_disable_leader=True,
        topic_replication_factor=settings.qc_topic_replication,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_max_request_size=settings.qc_max_record_bytes,
        broker_commit_every=100,
        broker_commit_interval=1.0,
        # A task may run for its whole time limit; that is not a stuck stream.
        stream_processing_timeout=settings.qc_task_time_limit_ms / 1000 + 60,
    )
    use_safe_commits(app)  # never a commit past a task still running
    submitted = app.topic(topics.submitted, key_type=bytes, value_type=bytes)
    results = app.topic(topics.results, key_type=bytes, value_type=bytes)
    dead_letter = app.topic(topics.dead_letter, key_type=bytes, value_type=bytes)
    name = f"{socket.gethostname()}:{os.getpid()}"
    cancellations = Cancellations()

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
        result, value = fitted(result, settings.qc_max_record_bytes)
        try:
            await publish(results, key, result, value)
        except MessageSizeTooLargeError as exc:
            await publish(results, key, _failed(result, f"the broker refused the result: {exc}"))
        except Exception as exc:  # permanent: logged with the task, the partition moves on
            log.error("task %s: result not published: %r", task_id, exc, extra={"task_id": task_id})

    async def handle(event: EventT) -> None:
        message = event.message
        try:
            task = TaskSubmitted.decode(message.value or b"")
        except (orjson.JSONDecodeError, ValidationError, TypeError) as exc:
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
                log.error("dead letter not published: %r", error)
            # Its task still ends: no 202 is left pending, whatever reached the log.
            failed = deadletters.invalid_record_result(message, str(exc), name)
            if failed is not None:
                await publish_result(failed.task_id, failed)
            return
        with metrics.processor_in_flight.track_inprogress():
            result = await execute(task, pool, name, view, cancellations)
        observe.count_outcome(task, result)
        if result is not None:
            log.info("task %s %s in %.1f ms", task.task_id, result.status, result.duration_ms)
            await publish_result(task.task_id, result)

    @app.agent(submitted, concurrency=settings.agent_concurrency)
    async def run_tasks(stream: faust.StreamT) -> None:
        async for event in stream.events():
            # The task's trace goes on from the API's record (its traceparent header).
            with observe.processing(event.message):
                await handle(event)

    @app.timer(interval=HEARTBEAT_S)
    async def heartbeat() -> None:
        """The liveness signal (/healthz) and the consumer lag, from the event loop."""
        metrics.HEARTBEAT.beat()
        metrics.set_lag(metrics.processor_lag, await observe.processor_lags(app))

    @app.task
    async def stop_cancelled_tasks() -> None:
        """Every processor reads every cancellation: the task may be running anywhere."""
        consumer = AIOKafkaConsumer(
            topics.cancellations,
            bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=None,  # no group: every partition, in every processor
            auto_offset_reset="latest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            async for record in consumer:
                try:
                    request = TaskCancelRequested.decode(record.value)
                except (orjson.JSONDecodeError, ValidationError, TypeError) as exc:
                    log.warning("skipping undecodable cancellation: %s", exc)
                    continue
                if cancellations.cancel(request.task_id):
                    log.info(
                        "task %s: cancelled while running",
                        request.task_id,
                        extra={"task_id": request.task_id},
                    )
        finally:
            await consumer.stop()

    return app


def _about(task: TaskSubmitted) -> dict[str, str]:
    return {"task_id": task.task_id}


def _failed(result: TaskResult, message: str) -> TaskResult:
    error = TaskError(code="limit_exceeded", message=message)
    return result.model_copy(
        update={"status": "failed", "counts": None, "memory": None, "results": None, "error": error}
    )


def fitted(result: TaskResult, max_record_bytes: int) -> tuple[TaskResult, bytes]:
    """The result and its encoding, or a ``limit_exceeded`` failure saying its size (and
    that failure's encoding) when it does not fit in a record of ``max_record_bytes``."""
    value = result.encode()
    size = len(value) + RECORD_OVERHEAD
    if size <= max_record_bytes:
        return result, value
    failed = _failed(
        result,
        f"the result takes {size} bytes; a record may take at most {max_record_bytes} "
        "(QC_MAX_RECORD_BYTES): ask for fewer shots, or no memory",
    )
    return failed, failed.encode()
