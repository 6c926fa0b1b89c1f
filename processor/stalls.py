"""A partition this processor holds that stopped being read while records wait on it: found,
described with everything that decides whether it is read, and read again.

A partition is read when Faust counts it active (not paused for a rebalance, not held back
for a full buffer) and aiokafka fetches it (a position, not paused, no request to its leader
stuck in flight). Every path that stops one of those has one that starts it again, and the
tests' drills (tests/faults/test_cluster.py) see them work; one run of the paused-broker drill
saw one partition of three never read again after the broker came back, its 169 tasks queued
while the other two went on, with no line in the log to say which gate stayed shut. So the
processor watches: a partition with records past the last one it read, not read for
``STALL_S`` while the look-ahead had room, is logged with every gate's state (a warning: the
operator's alert and the next fix's evidence) and opened again at Faust's level and
aiokafka's, which reads on from where it was (nothing read twice, nothing skipped)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from faust.types import TP

from runtime import metrics

log = logging.getLogger(__name__)

#: How long a partition with records waiting may go unread (with room to take them).
STALL_S = 20.0
#: How often the log's end offsets are asked for (a request to each partition's leader).
CHECK_S = 5.0


class StallWatch:
    def __init__(self, app: Any, has_room: Callable[[], bool], stall_s: float = STALL_S) -> None:
        self.app = app
        self.has_room = has_room
        self.stall_s = stall_s
        #: Per partition: the next offset to read, as last seen, and since when it is so.
        self._next: dict[TP, tuple[int, float]] = {}
        self.stalls = 0
        self._checked = time.monotonic()

    def read(self, tp: TP, offset: int) -> None:
        """A record of ``tp`` at ``offset`` was taken from the consumer."""
        self._next[tp] = (offset + 1, time.monotonic())

    async def check(self) -> list[TP]:
        """The partitions stalled now (each described and opened again). Nothing counts as
        stalled while a rebalance stops the flow (Faust then pauses every partition until
        its recovery resumes them), nor across a time the process itself did not run (a
        check long after the last one: the process was stopped, or its loop held)."""
        now = time.monotonic()
        consumer = self.app.consumer
        late, self._checked = now - self._checked > 2 * CHECK_S, now
        if late or not getattr(consumer, "flow_active", True):
            self._next = {tp: (offset, now) for tp, (offset, _) in self._next.items()}
            return []
        try:
            assigned = set(consumer.assignment())
            ends: Mapping[TP, int] = (
                await asyncio.wait_for(consumer.highwaters(*assigned), CHECK_S) if assigned else {}
            )
        except Exception:  # not started, between generations, or the broker away: next time
            return []
        stalled = []
        for tp in assigned:
            end = ends.get(tp)
            seen = self._next.get(tp)
            if seen is None:
                self._next[tp] = (await self._position(tp), now)
                continue
            next_offset, since = seen
            if end is None or end <= next_offset or not self.has_room():
                self._next[tp] = (next_offset, now)
                continue
            if now - since >= self.stall_s:
                stalled.append(tp)
                self._next[tp] = (next_offset, now)
        for tp in stalled:
            self.stalls += 1
            metrics.processor_partition_stalls.inc()
            log.warning(
                "partition %s[%d] not read for %.0f s with %d record(s) waiting: %s; read again",
                tp.topic,
                tp.partition,
                self.stall_s,
                ends[tp] - self._next[tp][0],
                describe(consumer, tp),
            )
            reopen(consumer, tp)
        return stalled

    async def _position(self, tp: TP) -> int:
        try:
            return int(await asyncio.wait_for(self.app.consumer.position(tp), CHECK_S) or 0)
        except Exception:
            return 0


def describe(consumer: Any, tp: TP) -> str:
    """Every gate between the log and the stream for ``tp``: Faust's and aiokafka's."""
    facts: dict[str, object] = {
        "faust_active": tp in (consumer._active_partitions or set()),
        "faust_paused": tp in consumer._paused_partitions,
        "faust_buffered": tp in consumer._buffered_partitions,
        "faust_read_offset": consumer._read_offset.get(tp),
        "faust_committed": consumer._committed_offset.get(tp),
        "flow_active": consumer.flow_active,
    }
    try:
        kafka = consumer._thread._ensure_consumer()
        fetcher = kafka._fetcher
        assignment = kafka._subscription.subscription.assignment
        state = assignment.state_value(tp)
        leader = kafka._client.cluster.leader_for_partition(tp)
        facts.update(
            kafka_position=state.position if state.has_valid_position else None,
            kafka_paused=state.paused,
            kafka_awaiting_reset=state.awaiting_reset,
            kafka_records_held=tp in fetcher._records,
            leader=leader,
            leader_in_flight=leader in fetcher._in_flight,
        )
    except Exception as exc:  # the consumer's insides as they are: described, never fatal
        facts["kafka"] = repr(exc)
    return ", ".join(f"{key}={value}" for key, value in facts.items())


def reopen(consumer: Any, tp: TP) -> None:
    """Open every gate of ``tp`` again: Faust's flow (active, not paused, not held for a full
    buffer) and aiokafka's pause; the position stays where it is."""
    consumer._buffered_partitions.discard(tp)
    consumer.resume_partitions({tp})
    try:
        kafka = consumer._thread._ensure_consumer()
        kafka._loop.call_soon_threadsafe(_resume, kafka, tp)
    except Exception as exc:
        log.warning("partition %s[%d]: aiokafka's pause left as it is: %r", *tp, exc)


def _resume(kafka: Any, tp: TP) -> None:
    """In the consumer's own loop: resume ``tp`` if it is still assigned there."""
    if tp in kafka.assignment():
        kafka.resume(tp)
