"""Retry-safe submission: an ``Idempotency-Key`` claims the task it was first sent with (for
``API_IDEMPOTENCY_TTL_S``), so that the same key and body give that task back and run it once,
and the same key with another body is refused."""

from __future__ import annotations

import hashlib
from typing import cast

import orjson
from redis.asyncio import Redis

from api.errors import Refused
from api.models import TaskRequest


class IdempotencyKeys:
    """The keys, in Redis beside the view (``{prefix}idem:{owner}:{key}``)."""

    def __init__(self, redis: Redis, prefix: str, ttl_s: int) -> None:
        self.redis, self.prefix, self.ttl_s = redis, prefix, ttl_s

    def _key(self, owner: str | None, key: str) -> str:
        return f"{self.prefix}idem:{owner or ''}:{key}"

    async def claim(
        self, owner: str | None, key: str, body: TaskRequest, task_id: str
    ) -> str | None:
        """None when the key is new (now claimed for ``task_id``); the task it was first sent
        with when the body is the same; :class:`Refused` for another body. Raises
        ``RedisError`` when Redis does not answer (the API's handler makes it a 503)."""
        fingerprint = hashlib.sha256(
            orjson.dumps(body.model_dump(), option=orjson.OPT_SORT_KEYS)
        ).hexdigest()
        name = self._key(owner, key)
        if await self.redis.set(name, f"{fingerprint} {task_id}", nx=True, ex=self.ttl_s):
            return None
        previous = cast(bytes | None, await self.redis.get(name))  # no decode_responses
        if previous is None:  # expired in between: claimed by nobody now
            return await self.claim(owner, key, body, task_id)
        seen_fingerprint, seen_task = previous.decode().split(" ")
        if seen_fingerprint != fingerprint:
            raise Refused(
                "Idempotency-Key", "this key was used with a different body", loc="header"
            )
        return seen_task

    async def release(self, owner: str | None, key: str) -> None:
        """The task was not accepted: a retry with the key must try again."""
        await self.redis.delete(self._key(owner, key))
