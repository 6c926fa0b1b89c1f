"""``qcexec replay``: run again the circuits already on ``qc.submitted`` in a range.

Each record of the range is published again, same key (so same partition and order), same
program, shots and seed, with ``generation`` set to the replay's start time in milliseconds.
The processors run it like any submission and write a result of that generation. The view keeps
showing a task's previous outcome until the new one arrives, then shows the newest generation's
(a pending state never hides an outcome); ``qc.results`` is compacted by task id, so the newest
result is the one it keeps. A task appears once per replay even if its record is in the range
twice, and the range ends where the topic ended when the replay started, so the replay never
reads its own records.

A replay may also run the circuits under another configuration: ``overrides`` (``method``,
``noise``, ``shots``) replace those fields in every record it republishes, and the record's
``overrides`` names them, so that its result (and GET) says what it was run with.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pydantic import ValidationError

from ops.log import behind
from schemas.events import Method, Noise, TaskSubmitted

log = logging.getLogger(__name__)

#: A point in a partition: a record timestamp, or an offset (the same in every partition).
Position = datetime | int


def parse_position(text: str) -> Position:
    """An offset (digits) or an ISO 8601 time; a time without a zone is UTC."""
    if text.isdigit():
        return int(text)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Overrides:
    """What a replay runs differently: None keeps the submission's own."""

    method: Method | None = None
    noise: Noise | None = None
    shots: int | None = None

    def changes(self) -> dict[str, Any]:
        return {name: value for name, value in vars(self).items() if value is not None}


@dataclass
class Replayed:
    generation: int
    ranges: dict[int, tuple[int, int]] = field(default_factory=dict)  # partition: [start, stop)
    republished: list[str] = field(default_factory=list)  # task ids, in the order sent
    skipped: int = 0  # undecodable records and repeats of a task already replayed


async def _offsets(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition], at: Position, ends: dict
) -> dict[TopicPartition, int]:
    """Where ``at`` falls in each partition, clipped to [beginning, end at the replay's start]."""
    if isinstance(at, int):
        starts = await consumer.beginning_offsets(partitions)
        return {tp: min(max(at, starts[tp]), ends[tp]) for tp in partitions}
    found = await consumer.offsets_for_times({tp: int(at.timestamp() * 1000) for tp in partitions})
    return {tp: min(ends[tp], found[tp].offset) if found[tp] else ends[tp] for tp in partitions}


async def replay(
    consumer: AIOKafkaConsumer,
    producer: AIOKafkaProducer,
    topic: str,
    start: Position,
    stop: Position | None = None,
    progress: Callable[[int], None] | None = None,
    overrides: Overrides | None = None,
) -> Replayed:
    """Publish again the records of ``topic`` in [start, stop) (stop: the end of the topic now),
    with ``overrides`` set in each. ``consumer`` is assigned the topic's partitions
    (:func:`ops.log.reader`)."""
    done = Replayed(generation=time.time_ns() // 1_000_000)
    changed = overrides.changes() if overrides is not None else {}
    if changed:
        changed["overrides"] = sorted(changed)
    partitions = sorted(consumer.assignment())
    ends = await consumer.end_offsets(partitions)
    starts = await _offsets(consumer, partitions, start, ends)
    stops = ends if stop is None else await _offsets(consumer, partitions, stop, ends)
    for tp in partitions:
        done.ranges[tp.partition] = (starts[tp], max(starts[tp], stops[tp]))
        consumer.seek(tp, starts[tp])
    seen: set[str] = set()
    while await behind(consumer, stops):
        batch = await consumer.getmany(timeout_ms=500, max_records=500)
        sent = []
        for tp, records in batch.items():
            for record in records:
                if record.offset >= stops[tp]:
                    continue
                try:
                    task = TaskSubmitted.decode(record.value)
                except (orjson.JSONDecodeError, ValidationError, TypeError) as exc:
                    log.warning("offset %d of %s not replayed: %s", record.offset, tp, exc)
                    done.skipped += 1
                    continue
                if task.task_id in seen:
                    done.skipped += 1
                    continue
                seen.add(task.task_id)
                again = task.model_copy(update={"generation": done.generation, **changed})
                sent.append(
                    await producer.send(
                        topic, again.encode(), key=record.key, headers=again.headers()
                    )
                )
                done.republished.append(task.task_id)
        await asyncio.gather(*sent)  # acknowledged before the next batch is read
        if progress is not None:
            progress(len(done.republished))
    return done
