"""What must not run, read from the log: the processor's own table of cancellations and
withdrawals, from the compacted ``qc.cancellations`` topic.

The Redis view is a read model for GET; what runs is decided here. Each processor reads the
whole topic (no consumer group: every partition, from the start) into a table of task id to
the newest generation it stops and whether it was withdrawn, and is *caught up* (has read
every record that was on the topic when it looked) before it schedules anything after a start
or a rebalance. So a queued task cancelled, then a Redis lost (flushed, or restored from an old
snapshot), still never runs. The table also stops the tasks this processor is running when
their cancellation arrives.

Memory: one entry per task ever cancelled or withdrawn that the compacted topic still holds
(about 100 bytes each: a million cancellations take about 100 MB).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer
from pydantic import ValidationError

from runtime import metrics
from schemas.events import TaskCancelRequested

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Mark:
    """A task stopped up to a generation; ``withdrawn`` when the API answered 503 for it."""

    generation: int
    withdrawn: bool


class Running:
    """The tasks this processor is running, so that a cancellation can reach them."""

    def __init__(self) -> None:
        self._running: dict[str, asyncio.Event] = {}

    @contextlib.contextmanager
    def running(self, task_id: str) -> Iterator[asyncio.Event]:
        event = self._running.setdefault(task_id, asyncio.Event())
        try:
            yield event
        finally:
            self._running.pop(task_id, None)

    def cancel(self, task_id: str) -> bool:
        """Stop the task if it runs here; returns whether it did."""
        event = self._running.get(task_id)
        if event is None:
            return False
        event.set()
        return True


class ControlTable:
    """Cancellations and withdrawals by task id, as the log says (see the module's text)."""

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        running: Running | None = None,
        *,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        #: The Kafka client's security options (runtime.kafka_client.client_options).
        self.options = dict(options or {})
        self.topic = topic
        self.running = running or Running()
        self._marks: dict[str, Mark] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._caught_up = asyncio.Event()
        self._stale = True

    def stops(self, task_id: str, generation: int) -> Mark | None:
        """The mark that stops this generation of the task, if any: a cancellation stops the
        generations up to its own; a withdrawal stops every generation (the client was told
        the task was not accepted, so not even a replay runs it)."""
        mark = self._marks.get(task_id)
        if mark is None or (mark.generation < generation and not mark.withdrawn):
            return None
        return mark

    def record(self, request: TaskCancelRequested) -> None:
        """Take one cancellation into the table (and stop the task if it runs here)."""
        known = self._marks.get(request.task_id)
        generation = max(request.generation, known.generation if known else -1)
        withdrawn = request.withdrawn or (known is not None and known.withdrawn)
        self._marks[request.task_id] = Mark(generation, withdrawn)
        if self.running.cancel(request.task_id):
            log.info(
                "task %s: cancelled while running",
                request.task_id,
                extra={"task_id": request.task_id},
            )

    def __len__(self) -> int:
        return len(self._marks)

    def rebalanced(self) -> None:
        """Partitions were assigned: catch up again before the next task is scheduled."""
        self._stale = True

    async def catch_up(self) -> None:
        """Return once every record that is on the topic now has been read (the table then
        knows every cancellation appended before this call)."""
        if not self._stale and self._caught_up.is_set():
            return
        consumer = self._consumer
        while consumer is None or not consumer.assignment():
            await asyncio.sleep(0.05)
            consumer = self._consumer
        self._stale = False
        partitions = list(consumer.assignment())
        end = await consumer.end_offsets(partitions)
        while True:
            positions = [await consumer.position(tp) for tp in partitions]
            if all(position >= end[tp] for tp, position in zip(partitions, positions, strict=True)):
                break
            await asyncio.sleep(0.01)
        self._caught_up.set()

    async def run(self) -> None:
        """Read the topic from its start, for ever (a task of the processor's app)."""
        consumer = AIOKafkaConsumer(
            self.topic,
            bootstrap_servers=self.bootstrap_servers,
            group_id=None,  # no group: every partition, in every processor, from the start
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            metadata_max_age_ms=10_000,  # see processor/app.py: a stale leader, 10 s at most
            **self.options,
        )
        await consumer.start()
        try:
            self._consumer = consumer
            async for record in consumer:
                try:
                    request = TaskCancelRequested.decode(record.value or b"")
                except (orjson.JSONDecodeError, ValidationError, TypeError) as exc:
                    metrics.processor_tasks.labels("poison_cancellation").inc()
                    log.warning(
                        "skipping undecodable cancellation %s[%d]@%d: %s",
                        record.topic,
                        record.partition,
                        record.offset,
                        exc,
                    )
                    continue
                self.record(request)
        finally:
            self._consumer = None
            await consumer.stop()
