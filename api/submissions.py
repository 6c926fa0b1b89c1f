"""The API's side of the log: appends accepted submissions, acknowledged by the broker."""

from __future__ import annotations

import asyncio
import logging
import time

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from opentelemetry.trace import SpanKind, StatusCode

from qcexec import metrics, telemetry
from schemas.events import TaskCancelRequested, TaskSubmitted
from schemas.topics import Topics

log = logging.getLogger(__name__)

RECONNECT_S = 1.0


def _about(event: TaskSubmitted | TaskCancelRequested) -> dict[str, str]:
    return {"task_id": event.task_id}


class LogUnavailable(Exception):
    """The broker did not acknowledge the record in time: the task was not accepted."""


class SubmissionLog:
    """An idempotent, acks=all producer that the API can start before the broker is up.

    Until the producer has connected (and while the broker does not answer) every append
    fails fast with :class:`LogUnavailable`, and the connection is retried in the background.
    """

    def __init__(self, bootstrap_servers: str, topics: Topics, timeout_s: float) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.topics = topics
        self.timeout_s = timeout_s
        self._producer: AIOKafkaProducer | None = None
        self._connecting: asyncio.Task[None] | None = None

    def _new_producer(self) -> AIOKafkaProducer:
        timeout_ms = int(self.timeout_s * 1000)
        return AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers,
            acks="all",
            enable_idempotence=True,
            linger_ms=1,
            request_timeout_ms=timeout_ms,
            metadata_max_age_ms=30_000,
        )

    async def _connect(self) -> None:
        while True:
            producer = self._new_producer()
            try:
                await producer.start()
            except (KafkaError, OSError) as exc:
                await producer.stop()
                log.warning("broker not reachable at %s: %r", self.bootstrap_servers, exc)
                await asyncio.sleep(RECONNECT_S)
                continue
            self._producer = producer
            log.info("connected to the broker at %s", self.bootstrap_servers)
            return

    async def start(self, wait_s: float = 0) -> None:
        """Connect in the background; wait up to ``wait_s`` for the first connection."""
        self._connecting = asyncio.create_task(self._connect())
        if wait_s:
            await asyncio.wait([self._connecting], timeout=wait_s)

    @property
    def ready(self) -> bool:
        return self._producer is not None

    async def reachable(self, timeout_s: float = 2.0) -> bool:
        """Whether the broker answers a metadata request now."""
        if self._producer is None:
            return False
        try:
            metadata = await asyncio.wait_for(
                self._producer.client.fetch_all_metadata(), timeout=timeout_s
            )
        except (TimeoutError, KafkaError, OSError):
            return False
        return bool(metadata.brokers())

    async def append(self, event: TaskSubmitted | TaskCancelRequested) -> None:
        """Return once the broker acknowledged the record; raise LogUnavailable otherwise."""
        if self._producer is None:
            raise LogUnavailable("not connected to the broker")
        producer = self._producer
        submission = isinstance(event, TaskSubmitted)
        topic = self.topics.submitted if submission else self.topics.cancellations
        attributes = telemetry.messaging(topic, "send") | {"qcexec.task_id": event.task_id}
        with telemetry.tracer().start_as_current_span(
            f"{topic} publish", kind=SpanKind.PRODUCER, attributes=attributes
        ) as span:
            start = time.perf_counter()
            try:
                await asyncio.wait_for(
                    producer.send_and_wait(
                        topic,
                        value=event.encode(),
                        key=event.task_id.encode(),
                        headers=event.headers(telemetry.trace_headers()),
                    ),
                    timeout=self.timeout_s,
                )
            except (TimeoutError, KafkaError) as exc:
                if submission:
                    metrics.api_submit_duration.labels("unavailable").observe(
                        time.perf_counter() - start
                    )
                span.set_status(StatusCode.ERROR, "not acknowledged by the broker")
                log.warning("task %s not accepted: %r", event.task_id, exc, extra=_about(event))
                raise LogUnavailable(str(exc) or type(exc).__name__) from exc
            if submission:
                metrics.api_submit_duration.labels("accepted").observe(time.perf_counter() - start)
                log.info(
                    "task %s accepted (%d shots)", event.task_id, event.shots, extra=_about(event)
                )
            else:
                log.info("task %s: cancellation requested", event.task_id, extra=_about(event))

    async def stop(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
        if self._producer is not None:
            await self._producer.stop()
