"""The processor's scheduler: it looks ahead past the head of its partitions and picks what
runs next, instead of draining each partition in log order.

Records come in from the consumer (every partition this processor holds) into a bounded
look-ahead, queued per owner (an API key's digest; the open API is one owner), small and
heavy apart (:func:`programs.weight.task_work`). Whenever a worker is free, the scheduler:

1. picks the owner with the least work running or recently run (its usage decays with a
   half-life), among owners with something that may start: so a client flooding the service
   gets its share, never everybody's latency;
2. starts that owner's oldest eligible record: a heavy task alone (heavy tasks never hold
   more than ``heavy_slots`` workers, so a small task always finds one soon), or a small task
   with more small tasks picked by the same rule, as one batch (one claim, one hop to a worker,
   one wait for the results' acknowledgements): at light load a task goes through alone, under
   load the fixed costs are paid once per batch.

Records in the look-ahead are taken from the log but not acknowledged until their result is
on the log, so a commit never passes them and a crash loses nothing (``consumer.py``). On a
rebalance the records not yet started are given back (read again from the committed offset by
whichever processor gets their partition).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from programs.weight import task_work, units
from schemas.events import TaskSubmitted

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Entry:
    """One record in the look-ahead: its Faust event (to acknowledge it), its task, and how
    heavy it is."""

    event: Any
    task: TaskSubmitted
    work: int
    heavy: bool
    seq: int = 0
    #: Bytes of the record's value (the look-ahead is bounded in bytes too).
    size: int = 0

    @property
    def owner(self) -> str:
        return self.task.owner or ""

    @property
    def units(self) -> float:
        return units(self.work)


@dataclass
class _Owner:
    small: deque[Entry] = field(default_factory=deque)
    heavy: deque[Entry] = field(default_factory=deque)
    running: float = 0.0
    usage: float = 0.0
    updated: float = 0.0

    def decayed(self, now: float, half_life_s: float) -> float:
        if self.usage:
            self.usage *= 0.5 ** ((now - self.updated) / half_life_s)
        self.updated = now
        return self.usage


#: Runs one job (a list of entries) to the end: results published, records acknowledged.
RunJob = Callable[[list[Entry]], Awaitable[None]]


class Scheduler:
    def __init__(
        self,
        run_job: RunJob,
        *,
        workers: int,
        lookahead: int,
        lookahead_bytes: int = 2**62,
        batch_max: int,
        heavy_work: int,
        heavy_slots: int,
        half_life_s: float = 5.0,
        before_start: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.run_job = run_job
        self.workers = workers
        self.lookahead = lookahead
        self.lookahead_bytes = lookahead_bytes
        self._waiting_bytes = 0
        self.batch_max = batch_max
        self.heavy_work = heavy_work
        self.heavy_slots = max(1, min(heavy_slots, workers))
        self.half_life_s = half_life_s
        self.before_start = before_start
        self._owners: dict[str, _Owner] = {}
        self._waiting = 0
        self._running_jobs = 0
        self._running_heavy = 0
        self._seq = itertools.count()
        self._changed = asyncio.Event()
        self._room = asyncio.Condition()
        self._jobs: set[asyncio.Task[None]] = set()
        self._in_jobs: set[Entry] = set()
        #: Whether a record must not be queued after all (its partition was revoked since
        #: the consumer read it); such a record is read again by the partition's new owner.
        self.stale: Callable[[Entry], bool] = lambda entry: False

    # --- the look-ahead ------------------------------------------------------------------

    def entry(self, event: Any, task: TaskSubmitted, size: int = 0) -> Entry:
        work = task_work(task)
        return Entry(event, task, work, work >= self.heavy_work, size=size)

    def _has_room(self) -> bool:
        if not self._waiting:
            return True
        return self._waiting < self.lookahead and self._waiting_bytes < self.lookahead_bytes

    @property
    def has_room(self) -> bool:
        """Whether the look-ahead would take another record now."""
        return self._has_room()

    @property
    def waiting(self) -> int:
        return self._waiting

    @property
    def running(self) -> int:
        return self._running_jobs

    def running_events(self) -> list[Any]:
        """The events of the records being run now."""
        return [entry.event for entry in self._in_jobs]

    async def put(self, entry: Entry) -> None:
        """Queue a record; waits while the look-ahead is full."""
        async with self._room:
            await self._room.wait_for(self._has_room)
        if self.stale(entry):
            return
        entry.seq = next(self._seq)
        owner = self._owners.setdefault(entry.owner, _Owner())
        (owner.heavy if entry.heavy else owner.small).append(entry)
        self._waiting += 1
        self._waiting_bytes += entry.size
        self._changed.set()

    def give_back(self) -> list[Entry]:
        """Take every record not yet started out of the look-ahead (a rebalance: they are
        read again from the committed offset), and return them."""
        dropped: list[Entry] = []
        for owner in self._owners.values():
            dropped += owner.small
            dropped += owner.heavy
            owner.small.clear()
            owner.heavy.clear()
        self._waiting = 0
        self._waiting_bytes = 0
        self._changed.set()
        return dropped

    async def _room_made(self) -> None:
        async with self._room:
            self._room.notify_all()

    # --- choosing ----------------------------------------------------------------------

    def _eligible(self, owner: _Owner, heavy_ok: bool) -> Entry | None:
        """The owner's oldest record that may start now."""
        small = owner.small[0] if owner.small else None
        heavy = owner.heavy[0] if owner.heavy and heavy_ok else None
        if small is None or heavy is None:
            return small or heavy
        return small if small.seq < heavy.seq else heavy

    def _pick(self, heavy_ok: bool, small_only: bool = False) -> Entry | None:
        """The next record by fair share: the owner with the least work running or recently
        run, then its oldest record that may start."""
        now = time.monotonic()
        best: tuple[float, int, Entry] | None = None
        for owner in self._owners.values():
            entry = self._eligible(owner, heavy_ok and not small_only)
            if entry is None:
                continue
            key = (owner.decayed(now, self.half_life_s) + owner.running, entry.seq, entry)
            if best is None or key[:2] < best[:2]:
                best = key
        if best is None:
            return None
        entry = best[2]
        owner = self._owners[entry.owner]
        (owner.heavy if entry.heavy else owner.small).popleft()
        owner.running += entry.units
        self._waiting -= 1
        self._waiting_bytes -= entry.size
        return entry

    def _next_job(self) -> list[Entry] | None:
        if self._running_jobs >= self.workers:
            return None
        first = self._pick(heavy_ok=self._running_heavy < self.heavy_slots)
        if first is None:
            return None
        job = [first]
        if not first.heavy:
            budget = self.heavy_work - first.work
            while len(job) < self.batch_max:
                more = self._pick(heavy_ok=False, small_only=True)
                if more is None:
                    break
                job.append(more)
                budget -= more.work
                if budget <= 0:
                    break
        return job

    # --- running -----------------------------------------------------------------------

    async def _run(self, job: list[Entry], heavy: bool) -> None:
        try:
            await self.run_job(job)
        except Exception:  # the job's own errors end its tasks; this is a defect: logged
            log.exception("a job of %d task(s) failed", len(job))
        finally:
            now = time.monotonic()
            self._in_jobs.difference_update(job)
            for entry in job:
                owner = self._owners.get(entry.owner)
                if owner is None:
                    continue
                owner.decayed(now, self.half_life_s)
                owner.running = max(0.0, owner.running - entry.units)
                owner.usage += entry.units
                if not owner.running and not owner.small and not owner.heavy:
                    if owner.usage < 0.01:
                        self._owners.pop(entry.owner, None)
            self._running_jobs -= 1
            self._running_heavy -= heavy
            self._changed.set()

    async def run(self) -> None:
        """Start jobs as workers free up, for ever (a task of the processor's app)."""
        try:
            while True:
                await self._changed.wait()
                self._changed.clear()
                await self._room_made()
                while True:
                    job = self._next_job()
                    if job is None:
                        break
                    if self.before_start is not None:
                        await self.before_start()
                    heavy = job[0].heavy
                    self._in_jobs.update(job)
                    self._running_jobs += 1
                    self._running_heavy += heavy
                    task = asyncio.create_task(self._run(job, heavy))
                    self._jobs.add(task)
                    task.add_done_callback(self._jobs.discard)
                    await self._room_made()
        finally:
            await self.drain()

    async def drain(self, timeout_s: float = math.inf) -> None:
        """Wait for the jobs running now (SIGTERM: work in flight ends, nothing new starts)."""
        if self._jobs:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.gather(*self._jobs, return_exceptions=True),
                    None if math.isinf(timeout_s) else timeout_s,
                )
