"""The API's side of the log: appends accepted submissions, acknowledged by the broker."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, OutOfOrderSequenceNumber, ProducerFenced
from opentelemetry.trace import SpanKind, StatusCode

from runtime import metrics, retry, telemetry
from runtime.compression import Codec, check_brokers
from schemas.events import TaskCancelRequested, TaskSubmitted
from schemas.topics import Topics

log = logging.getLogger(__name__)

#: The longest pause between two tries to connect.
RECONNECT_S = 1.0
#: Errors after which a producer delivers nothing more: it failed a record whose sequence
#: number the broker had already moved past (records that timed out while the broker was away),
#: and every later record fails the same way. The producer is replaced by a new one.
BROKEN_PRODUCER = (OutOfOrderSequenceNumber, ProducerFenced)


def _about(event: TaskSubmitted | TaskCancelRequested) -> dict[str, str]:
    return {"task_id": event.task_id}


class LogUnavailable(ConnectionError):
    """The broker did not acknowledge the record in time: the task was not accepted (a
    retryable error, for :mod:`runtime.retry`)."""


def _failure(outcome: object) -> LogUnavailable | None:
    """Why a record was not accepted, from what sending it returned (None: acknowledged)."""
    if isinstance(outcome, TimeoutError | KafkaError):
        return LogUnavailable(str(outcome) or type(outcome).__name__)
    if isinstance(outcome, BaseException):
        raise outcome
    return None


class SubmissionLog:
    """An idempotent, acks=all producer that the API can start before the broker is up.

    Until the producer has connected (and while the broker does not answer) every append
    fails fast with :class:`LogUnavailable`, and the connection is retried in the background.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        topics: Topics,
        timeout_s: float,
        max_record_bytes: int = 1_048_576,
        *,
        options: Mapping[str, Any] | None = None,
        codec: Codec = Codec.NONE,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        #: The Kafka client's security options (runtime.kafka_client.client_options).
        self.options = dict(options or {})
        self.max_record_bytes = max_record_bytes
        #: What the producer compresses with (QC_COMPRESSION; the brokers checked at connect).
        self.codec = codec
        self.topics = topics
        self.timeout_s = timeout_s
        self._producer: AIOKafkaProducer | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._later: set[asyncio.Task[None]] = set()

    def _new_producer(self) -> AIOKafkaProducer:
        timeout_ms = int(self.timeout_s * 1000)
        return AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers,
            acks="all",
            enable_idempotence=True,
            # No linger: a lone record leaves at once (a millisecond less to the 202 and another
            # to the processor); under load, records still gather while a request is in flight.
            linger_ms=0,
            request_timeout_ms=timeout_ms,
            metadata_max_age_ms=30_000,
            max_request_size=self.max_record_bytes,
            compression_type=self.codec.producer_option,
            **self.options,
        )

    async def _connect(self) -> None:
        async def connect() -> AIOKafkaProducer:
            producer = self._new_producer()
            try:
                await producer.start()
                await check_brokers(self.bootstrap_servers, self.codec, self.options)
            except BaseException:
                await producer.stop()
                raise
            return producer

        what = f"connecting to the broker at {self.bootstrap_servers}"
        try:
            self._producer = await retry.call(connect, what=what, log=log, max_wait_s=RECONNECT_S)
        except Exception as exc:  # permanent: appends answer 503 until a restart
            log.error("cannot connect to the broker at %s: %r", self.bootstrap_servers, exc)
            return
        log.info("connected to the broker at %s", self.bootstrap_servers)

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
        (failure,) = await self.append_all([event])
        if failure is not None:
            raise failure

    async def append_all(
        self, events: Sequence[TaskSubmitted | TaskCancelRequested]
    ) -> list[LogUnavailable | None]:
        """Send every record, then wait once, up to the timeout, for the broker to acknowledge
        them all. Per event, in order: None (acknowledged) or why it was not accepted."""
        if not events:
            return []
        if self._producer is None:
            return [LogUnavailable("not connected to the broker") for _ in events]
        producer = self._producer
        submission = isinstance(events[0], TaskSubmitted)
        topic = self.topics.submitted if submission else self.topics.cancellations
        attributes: dict[str, Any] = telemetry.messaging(topic, "send")
        if len(events) == 1:
            attributes["qcexec.task_id"] = events[0].task_id
        else:
            attributes["messaging.batch.message_count"] = len(events)
        with telemetry.tracer().start_as_current_span(
            f"{topic} publish", kind=SpanKind.PRODUCER, attributes=attributes
        ) as span:
            trace = telemetry.trace_headers()
            start = time.perf_counter()
            sends = asyncio.gather(
                *(
                    producer.send_and_wait(
                        topic,
                        value=event.encode(),
                        key=event.task_id.encode(),
                        headers=event.headers(trace),
                    )
                    for event in events
                ),
                return_exceptions=True,
            )
            try:
                # On time-out every send still waiting is cancelled and answered as not
                # accepted. (A record the producer already holds may still reach the log once
                # the broker is back: the routes withdraw such tasks, see TaskView.withdraw.)
                outcomes = await asyncio.wait_for(sends, timeout=self.timeout_s)
            except TimeoutError:
                outcomes = [TimeoutError()] * len(events)
            elapsed = time.perf_counter() - start
            failures = [_failure(outcome) for outcome in outcomes]
            if any(isinstance(outcome, BROKEN_PRODUCER) for outcome in outcomes):
                self._replace(producer)
            if any(failures):
                span.set_status(StatusCode.ERROR, "not acknowledged by the broker")
        for event, failure in zip(events, failures, strict=True):
            if submission:
                outcome = "unavailable" if failure else "accepted"
                metrics.api_submit_duration.labels(outcome).observe(elapsed)
            if failure is not None:
                log.warning("task %s not accepted: %s", event.task_id, failure, extra=_about(event))
            elif isinstance(event, TaskSubmitted):
                log.info(
                    "task %s accepted (%d shots)", event.task_id, event.shots, extra=_about(event)
                )
            else:
                log.info("task %s: cancellation requested", event.task_id, extra=_about(event))
        return failures

    def append_later(self, events: Sequence[TaskCancelRequested]) -> None:
        """Append in the background, retrying until the broker takes every record (records
        the API must not lose but no client waits for: withdrawals of tasks answered 503)."""

        async def append() -> None:
            failures = await self.append_all(events)
            if any(failures):
                raise next(failure for failure in failures if failure is not None)

        async def keep_trying() -> None:
            what = f"appending {len(events)} withdrawal(s)"
            await retry.call(append, what=what, log=log, max_wait_s=10.0)

        task = asyncio.create_task(keep_trying())
        self._later.add(task)
        task.add_done_callback(self._later.discard)

    def _replace(self, producer: AIOKafkaProducer) -> None:
        """Retire a broken producer and connect a new one in the background (appends answer
        LogUnavailable meanwhile)."""
        if self._producer is not producer:
            return  # already being replaced
        self._producer = None
        log.warning("the producer cannot deliver any more records; replacing it")

        async def replace(retired: AIOKafkaProducer = producer) -> None:
            try:
                await retired.stop()
            except Exception as exc:  # its sender stopped with the error that broke it
                log.info("the broken producer stopped: %r", exc)
            await self._connect()

        self._connecting = asyncio.create_task(replace())

    async def stop(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
        for task in list(self._later):
            task.cancel()
        if self._producer is not None:
            await self._producer.stop()
