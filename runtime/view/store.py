"""The view's store: the task documents the API reads and the materializer and processor
write, through Lua scripts that never move a task backwards (see :mod:`runtime.view`)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import orjson
from redis.asyncio import Redis

from runtime.view.documents import ViewEntry
from runtime.view.lifecycle import ViewLifecycle
from runtime.view.notifier import Notifier
from runtime.view.scripts import script
from runtime.view.states import WAITING_KEY, Claim
from runtime.view.usage import USAGE_KEY, Usage, hours
from schemas.events import TaskSubmitted


@dataclass(frozen=True)
class TaskRecord:
    """What the view holds about one task."""

    doc: bytes
    owner: str

    @property
    def state(self) -> str:
        return orjson.loads(self.doc)["state"]


class StalePosition(Exception):
    """The view switched or lost its offsets since the writer last read its position."""


class TaskView(ViewLifecycle):
    """The tasks of the active view (and of the one being built, for live writes): their
    documents, the owners' indexes, the log offsets, and the ``done`` channel."""

    def __init__(self, redis: Redis, prefix: str = "qc:", ttl_s: int = 0) -> None:
        super().__init__(redis, prefix, ttl_s)
        self._apply = redis.register_script(script("apply"))
        self._claim = redis.register_script(script("claim"))
        self._cancel = redis.register_script(script("cancel"))
        self._withdraw = redis.register_script(script("withdraw"))
        self._get = redis.register_script(script("get"))

    @property
    def done_channel(self) -> str:
        return f"{self.prefix}done"

    async def get(self, task_id: str, owner: str | None = None) -> TaskRecord | None:
        """The task as the view holds it, or None when it has never heard of it (or the task
        belongs to someone else)."""
        found = await self._get(args=[self.prefix, task_id])
        if not found or found[1].decode() != (owner or ""):
            return None
        return TaskRecord(found[0], found[1].decode())

    async def apply(self, entry: ViewEntry) -> bool:
        """Write one entry unless the view already holds the task as far or further."""
        return bool(await self.apply_batch([entry]))

    async def apply_batch(
        self,
        entries: Sequence[ViewEntry],
        offsets: dict[str, int] | None = None,
        *,
        view: str = "",
        only_if_active: bool = False,
        expected: dict[str, int] | None = None,
    ) -> int:
        """Apply entries (and the log offsets they came from) in one atomic step, to ``view``
        (the active view by default). With ``only_if_active``, or ``expected`` offsets (each
        must be stored at least that far), raises :class:`StalePosition` instead of writing
        when the view has switched, lost its offsets, or was restored from an older snapshot.
        Returns how many entries moved a task forward."""
        args: list[Any] = [self.prefix, view, "1" if only_if_active else "0"]
        args.append(len(expected or {}))
        for field, offset in (expected or {}).items():
            args += [field, offset]
        args.append(len(offsets or {}))
        for field, offset in (offsets or {}).items():
            args += [field, offset]
        for entry in entries:
            args += entry.args(self.ttl_s)
        moved = int(await self._apply(args=args))
        if moved < 0:
            raise StalePosition()
        return moved

    async def claim(self, entry: ViewEntry) -> Claim:
        """Claim a task to run it (see :class:`Claim` and ``claim.lua``). ``entry`` is the
        running state."""
        (claim,) = await self.claim_many([entry])
        return claim

    async def claim_many(self, entries: Sequence[ViewEntry]) -> list[Claim]:
        """Claim tasks to run them, in one script call: one :class:`Claim` per entry, in
        order (a batch pays Redis's round trip once)."""
        if not entries:
            return []
        args: list[Any] = [self.prefix]
        for entry in entries:
            args += entry.args(self.ttl_s)
        found = await self._claim(args=args)
        return [Claim(a.decode() if isinstance(a, bytes) else str(a)) for a in found]

    async def request_cancel(self, task_id: str, owner: str | None) -> tuple[int, bytes]:
        """Record a cancellation: the task's rank then (-1: no such task) and its document."""
        rank, doc = await self._cancel(args=[self.prefix, task_id, owner or ""])
        return int(rank), doc

    async def withdraw(self, tasks: Sequence[TaskSubmitted]) -> None:
        """Make sure these submissions never run: the API told their clients they were not
        accepted, yet a record the producer already held may still reach the log (an idempotent
        producer retries it until the broker takes it). Such a task ends ``cancelled``."""
        args: list[Any] = [self.prefix, self.ttl_s]
        for task in tasks:
            args += [task.task_id, task.generation]
        await self._withdraw(args=args)

    async def waiting(self, owner: str | None, older_than_s: float) -> int:
        """How many tasks of ``owner`` were accepted and are not terminal yet; entries
        submitted more than ``older_than_s`` ago are dropped first (a task whose outcome the
        view never received must not hold a place for ever)."""
        key = f"{self.prefix}{WAITING_KEY}{owner or ''}"
        oldest = (time.time() - older_than_s) * 1e6  # scores are microseconds
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore(key, "-inf", f"({oldest}")
            pipe.zcard(key)
            _, count = await pipe.execute()
        return int(count)

    async def oldest_waiting(self) -> float | None:
        """When (a Unix time) the oldest task of any owner's backlog was submitted: a task
        accepted and not yet terminal; None when there is none."""
        oldest: float | None = None
        async for key in self.redis.scan_iter(match=f"{self.prefix}{WAITING_KEY}*", count=500):
            first = cast(
                list[tuple[bytes, float]], await self.redis.zrange(key, 0, 0, withscores=True)
            )
            if first and (oldest is None or first[0][1] < oldest):
                oldest = first[0][1]
        return None if oldest is None else oldest / 1e6

    async def usage(self, owner: str | None, since: datetime, until: datetime) -> Usage:
        """What ``owner`` used in the hours from the one holding ``since`` to the one holding
        ``until``, as the active view counted it (runtime/view/usage.py)."""
        view = await self.active_prefix()
        async with self.redis.pipeline(transaction=False) as pipe:
            for hour in hours(since, until):
                pipe.hgetall(f"{view}{USAGE_KEY}{owner or ''}:{hour}")
            buckets = await pipe.execute()
        return Usage.add_up(buckets)

    async def offsets(self, view: str | None = None) -> dict[str, int]:
        """Next offset to read per ``topic:partition``, as that view (the active one by
        default) last recorded it."""
        view = view if view is not None else await self.active_prefix()
        raw = cast(dict[bytes, bytes], await self.redis.hgetall(f"{view}offsets"))
        return {field.decode(): int(value) for field, value in raw.items()}

    async def page(
        self, owner: str | None, limit: int, before: float | None, state: str | None
    ) -> tuple[list[dict[str, Any]], float | None]:
        """Tasks newest first, submitted strictly before ``before`` (a score), optionally only
        in one state; returns them and the cursor of the next page (None at the end)."""
        view = await self.active_prefix()
        index = f"{view}index:{owner or ''}"
        found: list[dict[str, Any]] = []
        upper = f"({before}" if before is not None else "+inf"
        scan = max(limit, 50)
        while True:
            rows = cast(
                list[tuple[bytes, float]],
                await self.redis.zrevrangebyscore(
                    index, upper, "-inf", start=0, num=scan, withscores=True
                ),
            )
            async with self.redis.pipeline(transaction=False) as pipe:
                for task_id, _ in rows:
                    pipe.hget(f"{view}task:{task_id.decode()}", "doc")
                docs = await pipe.execute()
            for (_, score), doc in zip(rows, docs, strict=True):
                upper = f"({score}"
                if doc is None:
                    continue  # expired from the view
                item = orjson.loads(doc)
                if state is None or item["state"] == state:
                    found.append(item)
                    if len(found) == limit:
                        return found, score
            if len(rows) < scan:
                return found, None

    @contextlib.asynccontextmanager
    async def notifications(self) -> AsyncIterator[Notifier]:
        """One subscription per process to the ``done`` channel, shared by every waiter."""
        notifier = Notifier(self)
        task = asyncio.create_task(notifier.listen())
        try:
            await notifier.subscribed.wait()
            yield notifier
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
