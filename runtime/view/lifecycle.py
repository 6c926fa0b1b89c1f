"""The rebuild lifecycle of the view: the views under one base prefix, which one is active,
building a new one beside it (live writes go to both), switching to it in one step once it
has caught up, and dropping the one it replaced (``rebuild-view``, :mod:`ops.rebuild`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import cast

from redis.asyncio import Redis

from runtime.view.scripts import script

#: How long the mark of a view being rebuilt lasts without being renewed.
BUILDING_TTL_S = 60
#: Keys handled by one command (or script) when walking every key of a view.
SCAN_BATCH = 500


class ViewLifecycle:
    """The views under the base prefix ``prefix``; :class:`~runtime.view.TaskView` adds the
    reads and writes of tasks."""

    def __init__(self, redis: Redis, prefix: str = "qc:", ttl_s: int = 0) -> None:
        self.redis = redis
        self.prefix = prefix  # the base prefix
        self.ttl_s = ttl_s
        self._renew = redis.register_script(script("renew"))
        self._copy = redis.register_script(script("copy_marks"))
        self._switch = redis.register_script(script("switch"))

    @property
    def active_key(self) -> str:
        return f"{self.prefix}active"

    async def active_prefix(self) -> str:
        active = cast(bytes | None, await self.redis.get(self.active_key))  # no decode_responses
        return active.decode() if active else self.prefix

    async def start_building(self, view: str) -> None:
        """Send live writes (submissions written through, claims, cancellations) to ``view``
        too while it is being built, so that it misses nothing the active view has. One view
        is built at a time: raises :class:`RebuildInProgress` when another one is. The mark
        lasts :data:`BUILDING_TTL_S` unless :meth:`keep_building` renews it, so that a rebuild
        that died does not block the next one for long."""
        key = f"{self.prefix}building"
        if not await self.redis.set(key, view, nx=True, ex=BUILDING_TTL_S):
            other = cast(bytes | None, await self.redis.get(key))
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
