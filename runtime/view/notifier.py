"""The API's notifier: one subscription per process to the view's ``done`` channel, waking
the long-polling requests whose task reached a terminal state."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

from redis.exceptions import ConnectionError as RedisConnectionError

from runtime import retry

if TYPE_CHECKING:
    from runtime.view.store import TaskView

log = logging.getLogger(__package__)


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
