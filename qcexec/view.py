"""The Redis view the API reads: one document per task, already in the GET response shape.

Every write goes through Lua scripts that order a task's states by (generation, rank), with
rank queued < running < terminal, and never let a terminal outcome give way to a pending state.
So the view never moves backwards; the first terminal outcome of a generation is kept (a late
duplicate from an at-least-once redelivery changes nothing), and a replay's newer outcome
replaces an older one only once it is there.

The view lives under a *view prefix*; the key ``{base}active`` names the one in use (the base
prefix itself when unset), and every script resolves it, so ``rebuild-view`` can build a new
view beside the live one (``{base}building`` names it: live writes go to both) and switch in
one step once it has caught up. Under a view prefix: ``task:{id}`` (hash: rank,
gen, doc, owner, cancel, withdrawn), ``index:{owner}`` (task ids by submission time) and
``offsets`` (the next log offset per ``topic:partition``, written in the same script as the
documents, so the view and its position in the log never disagree). Under the base prefix:
the pub/sub channel ``done`` (ids of tasks that reached a terminal state), idempotency keys
and rate-limit buckets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from qcexec import retry
from schemas.events import TaskCancelRequested, TaskResult, TaskSubmitted

log = logging.getLogger(__name__)

PENDING_MESSAGE = "Task is still in progress."
#: How long the mark of a view being rebuilt lasts without being renewed.
BUILDING_TTL_S = 60
#: Keys handled by one command (or script) when walking every key of a view.
SCAN_BATCH = 500
RANK_QUEUED, RANK_RUNNING, RANK_TERMINAL = 0, 1, 2
TERMINAL_STATES = frozenset({"completed", "failed", "cancelled"})

_ACTIVE = """
local function active(base)
  return redis.call('GET', base .. 'active') or base
end

-- The views a live write goes to: the active one, and the one being rebuilt if any.
local function live(base)
  local views = {active(base)}
  local building = redis.call('GET', base .. 'building')
  if building and building ~= views[1] then views[2] = building end
  return views
end
"""

# An entry is seven values: task id, rank, generation, doc, owner ('' for none), score, ttl.
_STORE = """
local function advances(key, rank, gen)
  local current = redis.call('HMGET', key, 'rank', 'gen')
  if not current[1] then return true end
  local crank, cgen = tonumber(current[1]), tonumber(current[2] or '0')
  if crank >= 2 and rank < 2 then return false end
  if gen ~= cgen then return gen > cgen end
  return rank > crank
end

local function store(base, view, e)
  local key = view .. 'task:' .. e[1]
  local rank, gen = tonumber(e[2]), tonumber(e[3])
  if rank < 0 then  -- a mark: cancelled (-1) or withdrawn (-2) up to generation gen
    local marked = tonumber(redis.call('HGET', key, 'cancel') or '-1')
    if gen > marked then redis.call('HSET', key, 'cancel', gen) end
    if rank == -2 then redis.call('HSET', key, 'withdrawn', '1') end
    if tonumber(e[7]) > 0 then redis.call('EXPIRE', key, e[7]) end
    return 0
  end
  if not advances(key, rank, gen) then return 0 end
  redis.call('HSET', key, 'rank', rank, 'gen', gen, 'doc', e[4])
  if e[5] ~= '' then redis.call('HSET', key, 'owner', e[5]) end
  if tonumber(e[7]) > 0 then redis.call('EXPIRE', key, e[7]) end
  local owner = redis.call('HGET', key, 'owner') or ''
  redis.call('ZADD', view .. 'index:' .. owner, e[6], e[1])
  if rank >= 2 then redis.call('PUBLISH', base .. 'done', e[1]) end
  return 1
end
"""

# KEYS: none. ARGV: base, target view prefix ('' for the active one), whether the target must
# be the active view ('1'/'0'), an offsets field that must still be there ('' for none), the
# number of offsets, then field/offset pairs, then entries. Returns -1 when a condition failed
# (the caller re-reads its position), else the number of entries that moved a task forward.
_APPLY = (
    _ACTIVE
    + _STORE
    + """
local base = ARGV[1]
local views = {ARGV[2]}
if ARGV[2] == '' then views = live(base) end
local view = views[1]
if ARGV[3] == '1' and active(base) ~= view then return -1 end
if ARGV[4] ~= '' and redis.call('HEXISTS', view .. 'offsets', ARGV[4]) == 0 then return -1 end
local n = tonumber(ARGV[5])
local i = 6
for _ = 1, n do
  redis.call('HSET', view .. 'offsets', ARGV[i], ARGV[i + 1])
  i = i + 2
end
local moved = 0
while i <= #ARGV do
  local entry = {unpack(ARGV, i, i + 6)}
  moved = moved + store(base, view, entry)
  if views[2] then store(base, views[2], entry) end
  i = i + 7
end
return moved
"""
)

# ARGV: base, then one entry (the running state). 'done' when the task already has an outcome
# of this generation or a newer one (a redelivery), 'cancelled' when a client cancelled it
# before it started, 'withdrawn' when the API answered 503 for it, else it becomes 'running'.
_CLAIM = (
    _ACTIVE
    + _STORE
    + """
local base = ARGV[1]
local view = active(base)
local key = view .. 'task:' .. ARGV[2]
local current = redis.call('HMGET', key, 'rank', 'gen', 'cancel', 'withdrawn')
local gen = tonumber(ARGV[4])
if current[1] and tonumber(current[1]) >= 2 and tonumber(current[2] or '0') >= gen then
  return 'done'
end
if current[3] and tonumber(current[3]) >= gen then
  if current[4] then return 'withdrawn' end
  return 'cancelled'
end
for _, each in ipairs(live(base)) do store(base, each, {unpack(ARGV, 2, 8)}) end
return 'run'
"""
)

# ARGV: base, task id, owner ('' for none). Returns {rank, doc}; rank -1: no such task (for
# this owner). A task not yet terminal is marked cancelled for its current generation.
_CANCEL = (
    _ACTIVE
    + """
local views = live(ARGV[1])
local key = views[1] .. 'task:' .. ARGV[2]
local found = redis.call('HMGET', key, 'rank', 'gen', 'doc', 'owner')
if not found[1] or (found[4] or '') ~= ARGV[3] then return {-1, ''} end
local rank = tonumber(found[1])
if rank < 2 then
  for _, view in ipairs(views) do
    redis.call('HSET', view .. 'task:' .. ARGV[2], 'cancel', found[2] or '0')
  end
end
return {rank, found[3]}
"""
)

# ARGV: base, ttl (0: none), then task id and generation pairs. Marks submissions the API
# answered 503 for: their records were in the producer's hands and may still reach the log.
_WITHDRAW = (
    _ACTIVE
    + """
for _, view in ipairs(live(ARGV[1])) do
  for i = 3, #ARGV, 2 do
    local key = view .. 'task:' .. ARGV[i]
    redis.call('HSET', key, 'cancel', ARGV[i + 1], 'withdrawn', '1')
    if tonumber(ARGV[2]) > 0 then redis.call('EXPIRE', key, ARGV[2]) end
  end
end
return 1
"""
)

# ARGV: source view, target view, ttl (0: none), then task ids. Copies each task's 'cancel' and
# 'withdrawn' marks from the source view to the target one.
_COPY_MARKS = """
for i = 4, #ARGV do
  local marks = redis.call('HMGET', ARGV[1] .. 'task:' .. ARGV[i], 'cancel', 'withdrawn')
  local key = ARGV[2] .. 'task:' .. ARGV[i]
  if marks[1] then redis.call('HSET', key, 'cancel', marks[1]) end
  if marks[2] then redis.call('HSET', key, 'withdrawn', marks[2]) end
  if (marks[1] or marks[2]) and tonumber(ARGV[3]) > 0 then redis.call('EXPIRE', key, ARGV[3]) end
end
return 1
"""

# KEYS: the mark of the view being built. ARGV: that view, seconds. Renews the mark if it is
# still that view's; returns 1 if it was.
_RENEW = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('EXPIRE', KEYS[1], ARGV[2])
"""

# ARGV: base, the view to switch to. Switches only when that view has read every partition at
# least as far as the active one (so no answer goes backwards), and stops live writes to it as
# a view being built. Returns the view it replaced, or false when not caught up yet.
_SWITCH = (
    _ACTIVE
    + """
local base, target = ARGV[1], ARGV[2]
local current = active(base)
local ahead = redis.call('HGETALL', current .. 'offsets')
for i = 1, #ahead, 2 do
  local mine = redis.call('HGET', target .. 'offsets', ahead[i])
  if not mine or tonumber(mine) < tonumber(ahead[i + 1]) then return false end
end
redis.call('SET', base .. 'active', target)
redis.call('DEL', base .. 'building')
return current
"""
)

# ARGV: base, task id. Returns {doc, owner} or {} when unknown.
_GET = (
    _ACTIVE
    + """
local found = redis.call('HMGET', active(ARGV[1]) .. 'task:' .. ARGV[2], 'doc', 'owner')
if not found[1] then return {} end
return {found[1], found[2] or ''}
"""
)


@dataclass(frozen=True)
class ViewEntry:
    task_id: str
    rank: int
    generation: int
    doc: bytes
    owner: str | None
    submitted_at: datetime

    def args(self, ttl_s: int) -> list[Any]:
        score = self.submitted_at.timestamp() * 1e6  # microseconds: newest first, few ties
        return [
            self.task_id, self.rank, self.generation, self.doc, self.owner or "", score, ttl_s
        ]  # fmt: skip


def _common(event: TaskSubmitted | TaskResult, state: str, **moments: Any) -> dict[str, Any]:
    doc = {
        "task_id": event.task_id,
        "state": state,
        "shots": event.shots,
        "seed": event.seed,
        "submitted_at": event.submitted_at.isoformat(),
    }
    doc |= {name: value.isoformat() for name, value in moments.items() if value is not None}
    if event.generation:
        doc["generation"] = event.generation
    if event.dialect is not None:
        doc["dialect"] = event.dialect.value
    if event.method is not None:
        doc["method"] = event.method.value
    if event.noise is not None:
        doc["noise"] = event.noise.model_dump(exclude_none=True)
    if event.overrides:
        doc["overrides"] = event.overrides
    return doc


def _entry(event: TaskSubmitted | TaskResult, rank: int, doc: dict[str, Any]) -> ViewEntry:
    return ViewEntry(
        event.task_id, rank, event.generation, orjson.dumps(doc), event.owner, event.submitted_at
    )


#: The ranks of marks (see ``_STORE``): a task cancelled, or withdrawn, up to a generation.
RANK_CANCEL_MARK, RANK_WITHDRAWN_MARK = -1, -2


def mark_entry(event: TaskCancelRequested) -> ViewEntry:
    """A cancellation or withdrawal from the log, as the view records it (marks only: the
    task's document is left as it is; the processor ends such a task ``cancelled``)."""
    rank = RANK_WITHDRAWN_MARK if event.withdrawn else RANK_CANCEL_MARK
    return ViewEntry(event.task_id, rank, event.generation, b"", None, event.requested_at)


def submitted_entry(event: TaskSubmitted) -> ViewEntry:
    doc = {"status": "pending", "message": PENDING_MESSAGE, **_common(event, "queued")}
    return _entry(event, RANK_QUEUED, doc)


def running_entry(event: TaskSubmitted, started_at: datetime, processor: str) -> ViewEntry:
    doc = {
        "status": "pending",
        "message": PENDING_MESSAGE,
        **_common(event, "running", started_at=started_at),
        "processor": processor,
    }
    return _entry(event, RANK_RUNNING, doc)


def result_entry(event: TaskResult) -> ViewEntry:
    doc: dict[str, Any]
    if event.status == "completed" and event.sweep and event.results is not None:
        doc = {
            "status": "completed",
            "results": [point.model_dump(exclude_none=True) for point in event.results],
        }
    elif event.status == "completed":
        doc = {"status": "completed", "result": event.counts}
        if event.memory is not None:
            doc["memory"] = event.memory
        if event.results:  # one point, with parameters or observables: its fields beside
            point = event.results[0].model_dump(exclude_none=True, exclude={"counts"})
            doc |= point
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
    return _entry(event, RANK_TERMINAL, doc)


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


class TaskView:
    def __init__(self, redis: Redis, prefix: str = "qc:", ttl_s: int = 0) -> None:
        self.redis = redis
        self.prefix = prefix  # the base prefix
        self.ttl_s = ttl_s
        self._apply = redis.register_script(_APPLY)
        self._claim = redis.register_script(_CLAIM)
        self._cancel = redis.register_script(_CANCEL)
        self._withdraw = redis.register_script(_WITHDRAW)
        self._renew = redis.register_script(_RENEW)
        self._copy = redis.register_script(_COPY_MARKS)
        self._get = redis.register_script(_GET)
        self._switch = redis.register_script(_SWITCH)

    @property
    def done_channel(self) -> str:
        return f"{self.prefix}done"

    @property
    def active_key(self) -> str:
        return f"{self.prefix}active"

    async def active_prefix(self) -> str:
        active = await self.redis.get(self.active_key)
        return active.decode() if active else self.prefix

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
        still_there: str = "",
    ) -> int:
        """Apply entries (and the log offsets they came from) in one atomic step, to ``view``
        (the active view by default). With ``only_if_active``, or a ``still_there`` offsets
        field, raises :class:`StalePosition` instead of writing when the view has switched
        or lost its offsets. Returns how many entries moved a task forward."""
        args: list[Any] = [self.prefix, view, "1" if only_if_active else "0", still_there]
        args.append(len(offsets or {}))
        for field, offset in (offsets or {}).items():
            args += [field, offset]
        for entry in entries:
            args += entry.args(self.ttl_s)
        moved = int(await self._apply(args=args))
        if moved < 0:
            raise StalePosition()
        return moved

    async def claim(self, entry: ViewEntry) -> str:
        """``run``, ``cancelled``, ``withdrawn`` or ``done``: see ``_CLAIM``. ``entry`` is the
        running state."""
        result = await self._claim(args=[self.prefix, *entry.args(self.ttl_s)])
        return result.decode() if isinstance(result, bytes) else str(result)

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

    async def offsets(self, view: str | None = None) -> dict[str, int]:
        """Next offset to read per ``topic:partition``, as that view (the active one by
        default) last recorded it."""
        view = view if view is not None else await self.active_prefix()
        raw = await self.redis.hgetall(f"{view}offsets")
        return {field.decode(): int(value) for field, value in raw.items()}

    async def start_building(self, view: str) -> None:
        """Send live writes (submissions written through, claims, cancellations) to ``view``
        too while it is being built, so that it misses nothing the active view has. One view
        is built at a time: raises :class:`RebuildInProgress` when another one is. The mark
        lasts :data:`BUILDING_TTL_S` unless :meth:`keep_building` renews it, so that a rebuild
        that died does not block the next one for long."""
        key = f"{self.prefix}building"
        if not await self.redis.set(key, view, nx=True, ex=BUILDING_TTL_S):
            other = await self.redis.get(key)
            raise RebuildInProgress(other.decode() if other else "?")
        await self._copy_marks(await self.active_prefix(), view)

    async def _copy_marks(self, source: str, target: str) -> None:
        """Copy the cancellations and withdrawals recorded in ``source`` to ``target``: the
        rebuild reads them from no topic, and those made from now on go to both views."""
        start = len(f"{source}task:")
        async for keys in self._scan(f"{source}task:*"):
            ids = [key.decode()[start:] for key in keys]
            await self._copy(args=[source, target, self.ttl_s, *ids])
            await self.keep_building(target)  # a large view takes a while

    async def _scan(self, pattern: str) -> AsyncIterator[list[bytes]]:
        """The keys matching ``pattern``, :data:`SCAN_BATCH` at a time."""
        batch: list[bytes] = []
        async for key in self.redis.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) == SCAN_BATCH:
                yield batch
                batch = []
        if batch:
            yield batch

    async def keep_building(self, view: str) -> None:
        """Renew the mark of the view being built; raises :class:`RebuildInProgress` when it
        is gone (it lapsed: live writes may have missed ``view`` since, so it cannot be used)."""
        if not await self._renew(keys=[f"{self.prefix}building"], args=[view, BUILDING_TTL_S]):
            raise RebuildInProgress(view, lapsed=True)

    async def stop_building(self, view: str) -> None:
        """Stop sending live writes to ``view`` (a rebuild that did not finish)."""
        key = f"{self.prefix}building"
        if await self.redis.get(key) == view.encode():
            await self.redis.delete(key)

    async def switch(self, view: str) -> str | None:
        """Make ``view`` the active view if it has read the log at least as far as the active
        one; returns the view it replaced, or None when ``view`` is still behind."""
        previous = await self._switch(args=[self.prefix, view])
        return previous.decode() if previous else None

    async def drop(self, view: str) -> int:
        """Delete the documents, index and offsets of a view that is no longer active."""
        if view == await self.active_prefix():
            raise ValueError(f"{view!r} is the active view")
        deleted = await self.redis.unlink(f"{view}offsets")
        for pattern in (f"{view}task:*", f"{view}index:*"):
            async for keys in self._scan(pattern):
                deleted += await self.redis.unlink(*keys)
        return deleted

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
            rows = await self.redis.zrevrangebyscore(
                index, upper, "-inf", start=0, num=scan, withscores=True
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


class RebuildInProgress(Exception):
    """Another view is being built (or this rebuild's mark lapsed)."""

    def __init__(self, view: str, lapsed: bool = False) -> None:
        if lapsed:
            message = f"the mark of {view} as the view being built lapsed; start again"
        else:
            message = (
                f"another rebuild is building {view}; wait for it to finish "
                f"(or up to {BUILDING_TTL_S} s after it stopped)"
            )
        super().__init__(message)
        self.view = view


class Notifier:
    """Wakes long-polling requests when their task reaches a terminal state."""

    def __init__(self, view: TaskView) -> None:
        self.view = view
        self.subscribed = asyncio.Event()
        self._waiters: dict[str, set[asyncio.Future[None]]] = {}

    async def listen(self) -> None:
        """Subscribe, and subscribe again whenever Redis goes away (waking every waiter, who
        then reads the view)."""
        try:
            await retry.call(self._listen, what="the notification channel", log=log)
        finally:
            self.subscribed.set()  # nobody waits for a subscription that will not come

    async def _listen(self) -> None:
        try:
            async with self.view.redis.pubsub() as pubsub:
                await pubsub.subscribe(self.view.done_channel)
                self.subscribed.set()
                async for message in pubsub.listen():
                    if message["type"] == "message":
                        self._wake(message["data"].decode())
            raise RedisConnectionError("the notification channel closed")
        except Exception:
            self.subscribed.set()
            for task_id in list(self._waiters):
                self._wake(task_id)
            raise

    def _wake(self, task_id: str) -> None:
        for future in self._waiters.pop(task_id, ()):
            if not future.done():
                future.set_result(None)

    @contextlib.contextmanager
    def waiter(self, task_id: str) -> Iterator[asyncio.Future[None]]:
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
