"""``AsyncClient``: the API from asyncio code, with the same calls as ``Client``."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import httpx
from tenacity import AsyncRetrying

from qcexec_client import _core
from qcexec_client._core import Call, Observable, Point, RetryPolicy
from qcexec_client.errors import TaskFailed, WaitTimeout
from qcexec_client.models import Accepted, BatchItem, CancelAccepted, Task, TaskPage, Usage


class AsyncClient:
    """The qcexec API. ``url`` defaults to QCEXEC_URL, ``api_key`` to QCEXEC_API_KEY.

    Every call retries 429 and 503 (after the server's Retry-After) and lost connections where
    that is safe, within ``retry``; other 4xx raise at once (see ``qcexec_client.errors``)."""

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        base, headers = _core.settings(url, api_key)
        self.url = base
        self.retry = retry or RetryPolicy()
        self._http = httpx.AsyncClient(
            base_url=base, headers=headers, timeout=timeout, transport=transport
        )

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _send(self, call: Call) -> Any:
        async for attempt in AsyncRetrying(**self.retry.arguments(call)):
            with attempt:
                response = await self._http.request(
                    call.method, call.path, **_core.request_arguments(call)
                )
                return _core.parse(response)
        raise AssertionError("unreachable")  # pragma: no cover

    async def submit(
        self,
        qc: str,
        *,
        shots: int | None = None,
        seed: int | None = None,
        memory: bool = False,
        parameters: Point | Sequence[Point] | None = None,
        observables: Sequence[Observable] | None = None,
        outputs: Sequence[str] | None = None,
        method: str | None = None,
        noise: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> str:
        """Submit one program; returns its task id once the log has it. ``outputs``,
        ``method`` and ``noise`` as the API takes them (see ``task_body``)."""
        body = _core.task_body(
            qc, shots, seed, memory, parameters, observables, outputs, method, noise
        )
        return Accepted.model_validate(
            await self._send(_core.submit_call(body, idempotency_key))
        ).task_id

    async def submit_batch(self, tasks: Sequence[Mapping[str, Any]]) -> list[BatchItem]:
        """Submit several task bodies (see ``task_body``); one item per task, in order."""
        answer = await self._send(_core.batch_call([dict(task) for task in tasks]))
        return [BatchItem.model_validate(item) for item in answer["tasks"]]

    async def get(self, task_id: str, wait: float = 0) -> Task:
        """The task now, or with ``wait`` as soon as it is terminal (at most ``wait`` s)."""
        return Task.model_validate(await self._send(_core.get_call(task_id, wait)))

    async def wait(self, task_id: str, timeout: float | None = None, check: bool = False) -> Task:
        """Long-poll until the task is terminal; :class:`WaitTimeout` after ``timeout`` s.
        With ``check``, a failed or cancelled task raises :class:`TaskFailed`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = _core.LONG_POLL_S if deadline is None else deadline - time.monotonic()
            task = await self.get(task_id, wait=max(0.0, min(left, _core.LONG_POLL_S)))
            if task.done:
                if check and task.status != "completed":
                    raise TaskFailed(task)
                return task
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeout(task_id, task.state, timeout or 0)

    async def run(self, qc: str, *, timeout: float | None = None, **fields: Any) -> Task:
        """Submit and wait for the outcome; a task that did not complete raises TaskFailed."""
        return await self.wait(await self.submit(qc, **fields), timeout=timeout, check=True)

    async def cancel(self, task_id: str) -> CancelAccepted:
        """Ask for a task to be stopped; :class:`~qcexec_client.errors.Conflict` if finished."""
        return CancelAccepted.model_validate(await self._send(_core.cancel_call(task_id)))

    async def list(
        self, state: str | None = None, limit: int = 20, cursor: str | None = None
    ) -> TaskPage:
        """A page of the caller's tasks, newest first; pass ``next_cursor`` for the next."""
        return TaskPage.model_validate(await self._send(_core.list_call(state, limit, cursor)))

    async def usage(self, since: datetime | None = None, until: datetime | None = None) -> Usage:
        """What the caller used from ``since`` to ``until`` (the last 24 hours by default;
        moments with their offset): outcomes by state, shots, seconds of running."""
        return Usage.model_validate(await self._send(_core.usage_call(since, until)))
