"""Faust's consumer, made never to commit past a task still running.

With agent concurrency above 1, several records of a partition are in hand at once and finish
out of order. faust-streaming 0.15.3 commits the longest run of acknowledged offsets from the
head of its list, and checks for a gap before that run only against the previous commit, and
only when there was one (``Consumer._new_offset``: ``if committed_offset:``, then ``min(acked) -
committed_offset > 1``). On a partition never committed before (or committed at 0), a slow task
at its head is skipped: the fast records behind it are acknowledged, their run is committed,
and a processor killed then leaves the slow task ``running`` for ever
(tests/faults/test_commit_order.py saw the group commit offset 22 while offset 0 still ran).
The same check lets a commit pass an unfinished record just after the previous commit.

A second fault of the same version loses records after a rebalance that keeps a partition. Its
fetch loop takes a batch from the consumer's thread (``_wait_next_records``), and only then reads
the generation it checks the batch against (``Consumer.getmany``). A batch fetched before the
rebalance's seek to the committed offset, handed over after it, passes as the new generation;
its records move the partition's read offset past the committed one, and the records between,
read again from the committed offset, are then dropped as already read (``DROPPED MESSAGE
ROFF``). Their tasks stayed ``queued`` until the next rebalance
(tests/faults/test_cluster.py, the paused broker: 188 of 690 tasks). Here a batch fetched while
a seek ran is not handed on for the partitions sought: they are sought again to where the seek
put them (the consumer's reset policy, from the start, where nothing was committed).

A third: Faust seeks to the committed offsets after every rebalance (``perform_seek``), and
aiokafka's ``seek_to_committed`` seeks only the partitions that have one. A partition never
committed (its first commits lost while the group coordinator was frozen) was then not read
again from its start across a rebalance: the records the scheduler had taken and gave back
were never read again (the processors' coordinator frozen for 30 s: the 242 tasks of one
partition accepted while it was frozen stayed queued for ever, those before and after ran;
tests/faults/test_cluster.py). Here such a partition is sought to its start explicitly, where
the reset policy (earliest) puts it on a first assignment, and Faust's record of what it read
there is cleared with the seek.

Here the offsets a commit may cover stop below the lowest offset still in flight (tracked by
the stream, not yet acknowledged), which is what faust-streaming's open pull request 707
proposes; the rest of Faust's bookkeeping (gaps of compacted topics, its index of acknowledged
offsets) is left as it is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

from faust.transport.drivers import aiokafka
from faust.types import TP

log = logging.getLogger(__name__)


class Consumer(aiokafka.Consumer):
    #: Set by the processor's scheduler: takes the records it holds but has not started out
    #: of its look-ahead, and says which records are running.
    give_back: Callable[[], object] | None = None
    running: Callable[[], Iterable[Any]] | None = None
    #: Seeks so far, and for each partition sought: the count when its last seek ended, and
    #: where it went (None: where the consumer's reset policy put it, no offset committed).
    _seeks: int = 0
    _sought: dict[TP, tuple[int, int | None]]

    def _record_seeks(self, offsets: Mapping[TP, int | None]) -> None:
        self._seeks += 1
        if not hasattr(self, "_sought"):
            self._sought = {}
        for tp, offset in offsets.items():
            self._sought[tp] = (self._seeks, offset if offset is not None and offset >= 0 else None)

    async def seek_to_committed(self) -> Mapping[TP, int]:
        committed = await super().seek_to_committed()
        # aiokafka seeks only the partitions with a committed offset and leaves the others
        # where they were; after a rebalance that kept a partition never committed, that is
        # past the records the scheduler held and gave back, which were then never read again
        # (tests/faults/test_cluster.py, the processors' coordinator frozen: 242 tasks of one
        # partition queued for ever). Such a partition goes where the reset policy says:
        # the start, as on its first assignment.
        never = {tp: 0 for tp, offset in committed.items() if offset is None or offset < 0}
        if never:
            await self.seek_wait(never)
        self._record_seeks(committed)
        return committed

    async def seek_wait(self, partitions: Mapping[TP, int]) -> None:
        await super().seek_wait(partitions)
        self._record_seeks(partitions)

    async def _seek(self, partition: TP, offset: int) -> None:
        await super()._seek(partition, offset)
        self._record_seeks({partition: offset})

    async def _wait_next_records(
        self,
        timeout: float,  # noqa: ASYNC109 (Faust's signature)
    ) -> tuple[Any, set[TP] | None]:
        before = self._seeks
        records, active = await super()._wait_next_records(timeout)
        if not records or self._seeks == before:
            return records, active
        again = self.sought_during(records, before)
        if again:
            log.info("a batch fetched across a seek, read again: %s", again)
            records = {tp: batch for tp, batch in records.items() if tp not in again}
            await self.seek_wait(
                {tp: 0 if offset is None else offset for tp, offset in again.items()}
            )
        return records, active

    def sought_during(
        self, records: Mapping[TP, Sequence[Any]], before: int
    ) -> dict[TP, int | None]:
        """The partitions of a batch that were sought after the count was ``before`` (their
        records may predate the seek), and where each seek put them."""
        sought = getattr(self, "_sought", {})
        return {
            tp: sought[tp][1]
            for tp, batch in records.items()
            if batch and tp in sought and sought[tp][0] > before
        }

    def lowest_in_flight(self, tp: TP) -> int | None:
        """The lowest offset of ``tp`` that a stream took and has not acknowledged yet."""
        offsets = [
            message.offset
            for message in list(self._unacked_messages)
            if message.tp == tp and not message.acked
        ]
        return min(offsets, default=None)

    def _new_offset(self, tp: TP) -> int | None:
        limit = self.lowest_in_flight(tp)
        if limit is None:
            return super()._new_offset(tp)
        acked = self._acked[tp]
        committable = sorted(offset for offset in acked if offset < limit)
        if not committable:
            return None
        later = [offset for offset in acked if offset >= limit]
        self._acked[tp] = committable
        try:
            return super()._new_offset(tp)
        finally:
            self._acked[tp] = sorted(self._acked[tp] + later)

    async def wait_empty(self) -> None:
        """Before a rebalance (and at shutdown) Faust waits for every record a stream took to
        be acknowledged; the scheduler's look-ahead holds hundreds, so only the records
        running are waited for. The others are given back: they stay unacknowledged while
        the last commit is made (so it stops below them), then are forgotten, to be read
        again from the committed offset by the partition's owner."""
        if self.give_back is None or self.running is None:
            return await super().wait_empty()
        self.give_back()
        while not self.should_stop:
            running = [event.message for event in self.running()]
            if not any(not message.acked for message in running):
                break
            await asyncio.sleep(0.05)
        await self.commit_and_end_transactions()
        for message in list(self._unacked_messages):
            if not message.acked:
                self._unacked_messages.discard(message)
        return None


class Transport(aiokafka.Transport):
    """Faust's Kafka transport with :class:`Consumer`."""

    Consumer: ClassVar[Any] = Consumer


def use_safe_commits(app: Any) -> None:
    """Give ``app`` (a ``faust.App``, before it starts) the consumer of this module."""
    app.transport = Transport(app.conf.broker_consumer, app)
