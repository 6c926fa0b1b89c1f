"""The processor's watch over partitions left unread (processor/stalls.py): which partitions it
calls stalled (records waiting past the last one read, none read for the stall time, room in
the look-ahead), and what it opens again. The consumer here is a stand-in holding Faust's
partition sets, so each case is set up exactly; the drills run the real one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

from faust.types import TP

from processor.stalls import StallWatch

A, B = TP("t.qc.submitted", 0), TP("t.qc.submitted", 1)


class Consumer:
    """Faust's consumer as the watch reads it: assignment, end offsets, positions, and the
    sets that decide whether a partition is read."""

    def __init__(self, ends: Mapping[TP, int]) -> None:
        self.ends = dict(ends)
        self._active_partitions = set(ends)
        self._paused_partitions: set[TP] = set()
        self._buffered_partitions: set[TP] = set()
        self._read_offset: dict[TP, int] = {}
        self._committed_offset: dict[TP, int] = {}
        self.flow_active = True

    def assignment(self) -> set[TP]:
        return set(self.ends)

    async def highwaters(self, *tps: TP) -> dict[TP, int]:
        return {tp: self.ends[tp] for tp in tps}

    async def position(self, tp: TP) -> int:
        return 0

    def resume_partitions(self, tps: set[TP]) -> None:
        self._active_partitions |= tps
        self._paused_partitions -= tps


class App:
    def __init__(self, consumer: Consumer) -> None:
        self.consumer = consumer


def watch(consumer: Consumer, room: bool = True) -> StallWatch:
    return StallWatch(App(consumer), lambda: room, stall_s=0.05)


def test_a_partition_with_records_waiting_and_none_read_is_stalled_and_opened_again() -> None:
    consumer = Consumer({A: 10, B: 10})
    watching = watch(consumer)
    # A was paused and held back and never let go; B is read up to its end.
    consumer._active_partitions.discard(A)
    consumer._paused_partitions.add(A)
    consumer._buffered_partitions.add(A)
    watching.read(A, 3)
    watching.read(B, 9)
    assert asyncio.run(watching.check()) == []  # not for long enough yet
    time.sleep(0.06)
    assert asyncio.run(watching.check()) == [A]
    assert A in consumer._active_partitions
    assert A not in consumer._paused_partitions and A not in consumer._buffered_partitions
    assert watching.stalls == 1
    # Reported once per stall time, not at every check.
    assert asyncio.run(watching.check()) == []


def test_a_partition_read_to_its_end_or_still_being_read_is_not_stalled() -> None:
    consumer = Consumer({A: 10, B: 10})
    watching = watch(consumer)
    watching.read(A, 9)  # at its end
    watching.read(B, 2)
    time.sleep(0.06)
    watching.read(B, 3)  # read on meanwhile
    assert asyncio.run(watching.check()) == []
    consumer.ends[A] = 12  # new records on A: waiting from now on, not stalled yet
    assert asyncio.run(watching.check()) == []


def test_with_the_look_ahead_full_nothing_is_stalled() -> None:
    consumer = Consumer({A: 10})
    watching = watch(consumer, room=False)
    watching.read(A, 3)
    time.sleep(0.06)
    assert asyncio.run(watching.check()) == []
    assert watching.stalls == 0


def test_a_partition_never_read_counts_from_its_position() -> None:
    consumer = Consumer({A: 10})
    watching = watch(consumer)
    assert asyncio.run(watching.check()) == []  # first seen: from its position, 0
    time.sleep(0.06)
    assert asyncio.run(watching.check()) == [A]


def test_nothing_is_stalled_while_a_rebalance_stops_the_flow_or_after_the_process_was_stopped() -> (
    None
):
    consumer = Consumer({A: 10})
    watching = watch(consumer)
    watching.read(A, 3)
    time.sleep(0.06)
    consumer.flow_active = False  # a rebalance: Faust paused everything until it resumes
    assert asyncio.run(watching.check()) == []
    consumer.flow_active = True
    assert asyncio.run(watching.check()) == []  # the wait starts again from the rebalance
    time.sleep(0.06)
    assert asyncio.run(watching.check()) == [A]
    # A check long after the last one (the process stopped): the waits start again.
    watching._checked -= 100
    time.sleep(0.06)
    assert asyncio.run(watching.check()) == []
