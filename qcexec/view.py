"""The Redis view the API reads: one document per task, already in the GET response shape.

Every write goes through Lua scripts that compare ranks (queued < running < terminal), so the
view never moves backwards and the first terminal outcome of a task is kept: a late duplicate
from an at-least-once redelivery changes nothing. The materializer stores the log offsets it
has applied in the same transaction as the documents, so the view and its position in the log
never disagree, and a view that lost its offsets (a flushed Redis) is rebuilt from the start
of the log.

Keys, under the view's prefix: ``task:{id}`` (hash: rank, doc, owner, cancel), ``index:{owner}``
(sorted set of task ids by submission time, newest last), ``offsets`` (hash), and the pub/sub
channel ``done`` that carries the id of every task that reached a terminal state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from redis.asyncio import Redis

from schemas.events import TaskResult, TaskSubmitted

log = logging.getLogger(__name__)

PENDING_MESSAGE = "Task is still in progress."
RANK_QUEUED, RANK_RUNNING, RANK_TERMINAL = 0, 1, 2
TERMINAL_STATES = frozenset({"completed", "failed", "cancelled"})

# ARGV: rank, doc, ttl, owner ('' for none), score, prefix, task id. Sets the document when it
# moves the task forward, and indexes the task under its owner.
_STORE = """
local function store(key, argv)
  redis.call('HSET', key, 'rank', argv[1], 'doc', argv[2])
  if argv[4] ~= '' then redis.call('HSET', key, 'owner', argv[4]) end
  if tonumber(argv[3]) > 0 then redis.call('EXPIRE', key, argv[3]) end
  local owner = redis.call('HGET', key, 'owner') or ''
  redis.call('ZADD', argv[6] .. 'index:' .. owner, argv[5], argv[7])
  if tonumber(argv[1]) >= 2 then redis.call('PUBLISH', argv[6] .. 'done', argv[7]) end
end
"""

_WRITE = (
    _STORE
    + """
local current = redis.call('HGET', KEYS[1], 'rank')
if current and tonumber(current) >= tonumber(ARGV[1]) then return 0 end
store(KEYS[1], ARGV)
return 1
"""
)

# A processor about to run a task: 'done' when the task already has its outcome (a redelivery),
# 'cancelled' when a client cancelled it before it started, else it becomes 'running'.
_CLAIM = (
    _STORE
    + """
local current = tonumber(redis.call('HGET', KEYS[1], 'rank') or '-1')
if current >= 2 then return 'done' end
if redis.call('HEXISTS', KEYS[1], 'cancel') == 1 then return 'cancelled' end
if current < tonumber(ARGV[1]) then store(KEYS[1], ARGV) end
return 'run'
"""
)

# ARGV: owner ('' for none), time of the request. -1: no such task (for this owner),
# otherwise the task's rank when the request was recorded (terminal tasks are left alone).
_CANCEL = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if (redis.call('HGET', KEYS[1], 'owner') or '') ~= ARGV[1] then return -1 end
local rank = tonumber(redis.call('HGET', KEYS[1], 'rank'))
if rank < 2 then redis.call('HSET', KEYS[1], 'cancel', ARGV[2]) end
return rank
"""


@dataclass(frozen=True)
class ViewEntry:
    task_id: str
    rank: int
    doc: bytes
    owner: str | None
    submitted_at: datetime


def _common(
    event: TaskSubmitted | TaskResult, state: str, **moments: datetime | None
) -> dict[str, Any]:
    times = {name: value.isoformat() for name, value in moments.items() if value is not None}
    return {
        "task_id": event.task_id,
        "state": state,
        "shots": event.shots,
        "seed": event.seed,
        "submitted_at": event.submitted_at.isoformat(),
        **times,
    }


def submitted_entry(event: TaskSubmitted) -> ViewEntry:
    doc = {"status": "pending", "message": PENDING_MESSAGE, **_common(event, "queued")}
    return ViewEntry(event.task_id, RANK_QUEUED, orjson.dumps(doc), event.owner, event.submitted_at)


def running_entry(event: TaskSubmitted, started_at: datetime, processor: str) -> ViewEntry:
    doc = {
        "status": "pending",
        "message": PENDING_MESSAGE,
        **_common(event, "running", started_at=started_at),
        "processor": processor,
    }
    return ViewEntry(
        event.task_id, RANK_RUNNING, orjson.dumps(doc), event.owner, event.submitted_at
    )


def result_entry(event: TaskResult) -> ViewEntry:
    doc: dict[str, Any]
    if event.status == "completed":
        doc = {"status": "completed", "result": event.counts}
        if event.memory is not None:
            doc["memory"] = event.memory
    else:
        assert event.error is not None
        verb = "failed" if event.status == "failed" else "cancelled"
        doc = {
            "status": "error",
            "message": f"Task {verb}: {event.error.message}",
            "error": event.error.model_dump(),
        }
    doc |= _common(event, event.status, started_at=event.started_at, finished_at=event.finished_at)
    doc |= {"duration_ms": round(event.duration_ms, 3), "processor": event.processor}
    return ViewEntry(
        event.task_id, RANK_TERMINAL, orjson.dumps(doc), event.owner, event.submitted_at
    )


@dataclass(frozen=True)
class TaskRecord:
    """What the view holds about one task."""

    doc: bytes
    owner: str

    @property
    def state(self) -> str:
        return orjson.loads(self.doc)["state"]


class TaskView:
    def __init__(self, redis: Redis, prefix: str = "qc:", ttl_s: int = 0) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl_s = ttl_s
        self._write = redis.register_script(_WRITE)
        self._claim = redis.register_script(_CLAIM)
        self._cancel = redis.register_script(_CANCEL)

    def key(self, task_id: str) -> str:
        return f"{self.prefix}task:{task_id}"

    @property
    def offsets_key(self) -> str:
        return f"{self.prefix}offsets"

    @property
    def done_channel(self) -> str:
        return f"{self.prefix}done"

    def _args(self, entry: ViewEntry) -> list[Any]:
        score = entry.submitted_at.timestamp() * 1e6  # microseconds: newest first, few ties
        return [
            entry.rank, entry.doc, self.ttl_s, entry.owner or "", score, self.prefix, entry.task_id
        ]  # fmt: skip

    async def get(self, task_id: str, owner: str | None = None) -> TaskRecord | None:
        """The task as the view holds it, or None when it has never heard of it (or the task
        belongs to someone else)."""
        doc, stored_owner = await self.redis.hmget(self.key(task_id), ["doc", "owner"])
        found_owner = stored_owner.decode() if stored_owner else ""
        if doc is None or found_owner != (owner or ""):
            return None
        return TaskRecord(doc, found_owner)

    async def apply(self, entry: ViewEntry) -> bool:
        """Write one entry unless the view already holds the task at the same or a later rank."""
        return bool(await self._write(keys=[self.key(entry.task_id)], args=self._args(entry)))

    async def apply_batch(self, entries: Iterable[ViewEntry], offsets: dict[str, int]) -> None:
        """Apply entries and record the log offsets they came from, all or nothing."""
        async with self.redis.pipeline(transaction=True) as pipe:
            for entry in entries:
                keys = [self.key(entry.task_id)]
                await self._write(keys=keys, args=self._args(entry), client=pipe)
            if offsets:
                pipe.hset(self.offsets_key, mapping=offsets)
            await pipe.execute()

    async def claim(self, entry: ViewEntry) -> str:
        """``run``, ``cancelled`` or ``done``: see ``_CLAIM``. ``entry`` is the running state."""
        result = await self._claim(keys=[self.key(entry.task_id)], args=self._args(entry))
        return result.decode() if isinstance(result, bytes) else str(result)

    async def request_cancel(self, task_id: str, owner: str | None, at: datetime) -> int:
        """Record a cancellation; returns the task's rank then, or -1 when there is no task."""
        args = [owner or "", at.isoformat()]
        return int(await self._cancel(keys=[self.key(task_id)], args=args))

    async def offsets(self) -> dict[str, int]:
        """Next offset to read per ``topic:partition``, as the view last recorded it."""
        raw = await self.redis.hgetall(self.offsets_key)
        return {field.decode(): int(value) for field, value in raw.items()}

    async def page(
        self, owner: str | None, limit: int, before: float | None, state: str | None
    ) -> tuple[list[dict[str, Any]], float | None]:
        """Tasks newest first, submitted strictly before ``before`` (a score), optionally only
        in one state; returns them and the cursor of the next page (None at the end)."""
        index = f"{self.prefix}index:{owner or ''}"
        found: list[dict[str, Any]] = []
        upper: str = f"({before}" if before is not None else "+inf"
        scan = max(limit, 50)
        while len(found) < limit:
            rows = await self.redis.zrevrangebyscore(
                index, upper, "-inf", start=0, num=scan, withscores=True
            )
            if not rows:
                return found, None
            async with self.redis.pipeline(transaction=False) as pipe:
                for task_id, _ in rows:
                    pipe.hget(self.key(task_id.decode()), "doc")
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


class Notifier:
    """Wakes long-polling requests when their task reaches a terminal state."""

    def __init__(self, view: TaskView) -> None:
        self.view = view
        self.subscribed = asyncio.Event()
        self._waiters: dict[str, set[asyncio.Future[None]]] = {}

    async def listen(self) -> None:
        while True:
            try:
                async with self.view.redis.pubsub() as pubsub:
                    await pubsub.subscribe(self.view.done_channel)
                    self.subscribed.set()
                    async for message in pubsub.listen():
                        if message["type"] == "message":
                            self._wake(message["data"].decode())
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis went away: wake everyone, then subscribe again
                log.warning("notification channel lost: %r", exc)
                self.subscribed.set()
                for task_id in list(self._waiters):
                    self._wake(task_id)
                await asyncio.sleep(0.5)

    def _wake(self, task_id: str) -> None:
        for future in self._waiters.pop(task_id, ()):
            if not future.done():
                future.set_result(None)

    @contextlib.contextmanager
    def waiter(self, task_id: str):
        """A future set when the task is announced terminal; register before reading the view,
        so that no announcement falls between the read and the wait."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(task_id, set()).add(future)
        try:
            yield future
        finally:
            waiting = self._waiters.get(task_id)
            if waiting is not None:
                waiting.discard(future)
                if not waiting:
                    del self._waiters[task_id]
