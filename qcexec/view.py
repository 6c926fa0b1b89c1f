"""The Redis view the API reads: one document per task, already in the GET response shape.

Every write goes through one Lua script that compares ranks (queued < running < terminal), so
the view never moves backwards and the first terminal outcome of a task is kept: a late
duplicate from an at-least-once redelivery changes nothing. The materializer stores the log
offsets it has applied in the same transaction as the documents, so the view and its position
in the log never disagree, and a view that lost its offsets (a flushed Redis) is rebuilt from
the start of the log.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from redis.asyncio import Redis

from schemas.events import TaskResult, TaskSubmitted

PENDING_MESSAGE = "Task is still in progress."
RANK_QUEUED, RANK_TERMINAL = 0, 2

_WRITE = """
local current = redis.call('HGET', KEYS[1], 'rank')
if current and tonumber(current) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'rank', ARGV[1], 'doc', ARGV[2])
if tonumber(ARGV[3]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
return 1
"""


@dataclass(frozen=True)
class ViewEntry:
    task_id: str
    rank: int
    doc: bytes


def _times(**moments: Any) -> dict[str, str]:
    return {name: value.isoformat() for name, value in moments.items() if value is not None}


def submitted_entry(event: TaskSubmitted) -> ViewEntry:
    doc = {
        "status": "pending",
        "message": PENDING_MESSAGE,
        "task_id": event.task_id,
        "state": "queued",
        "shots": event.shots,
        "seed": event.seed,
        **_times(submitted_at=event.submitted_at),
    }
    return ViewEntry(event.task_id, RANK_QUEUED, orjson.dumps(doc))


def result_entry(event: TaskResult) -> ViewEntry:
    doc: dict[str, Any]
    if event.status == "completed":
        doc = {"status": "completed", "result": event.counts}
    else:
        assert event.error is not None
        doc = {
            "status": "error",
            "message": f"Task failed: {event.error.message}",
            "error": event.error.model_dump(),
        }
    doc |= {
        "task_id": event.task_id,
        "state": event.status,
        "shots": event.shots,
        "seed": event.seed,
        **_times(
            submitted_at=event.submitted_at,
            started_at=event.started_at,
            finished_at=event.finished_at,
        ),
        "duration_ms": round(event.duration_ms, 3),
        "processor": event.processor,
    }
    return ViewEntry(event.task_id, RANK_TERMINAL, orjson.dumps(doc))


class TaskView:
    def __init__(self, redis: Redis, prefix: str = "qc:", ttl_s: int = 0) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl_s = ttl_s
        self._write = redis.register_script(_WRITE)

    def key(self, task_id: str) -> str:
        return f"{self.prefix}task:{task_id}"

    @property
    def offsets_key(self) -> str:
        return f"{self.prefix}offsets"

    async def get(self, task_id: str) -> bytes | None:
        """The task's GET response body, or None when the view has never heard of it."""
        return await self.redis.hget(self.key(task_id), "doc")

    async def apply(self, entry: ViewEntry) -> bool:
        """Write one entry unless the view already holds the task at the same or a later rank."""
        args = [entry.rank, entry.doc, self.ttl_s]
        return bool(await self._write(keys=[self.key(entry.task_id)], args=args))

    async def apply_batch(self, entries: Iterable[ViewEntry], offsets: dict[str, int]) -> None:
        """Apply entries and record the log offsets they came from, all or nothing."""
        async with self.redis.pipeline(transaction=True) as pipe:
            for entry in entries:
                args = [entry.rank, entry.doc, self.ttl_s]
                await self._write(keys=[self.key(entry.task_id)], args=args, client=pipe)
            if offsets:
                pipe.hset(self.offsets_key, mapping=offsets)
            await pipe.execute()

    async def offsets(self) -> dict[str, int]:
        """Next offset to read per ``topic:partition``, as the view last recorded it."""
        raw = await self.redis.hgetall(self.offsets_key)
        return {field.decode(): int(value) for field, value in raw.items()}
