"""The job a primitive's ``run`` returns: the service's tasks for its PUBs (one task per PUB),
their state as Qiskit's ``JobStatus``, cancel, and the result once every task is done."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from qiskit.primitives import BasePrimitiveJob, PrimitiveResult
from qiskit.providers import JobStatus

from qcexec_client.client import Client
from qcexec_client.errors import Conflict, QcexecError, TaskFailed
from qcexec_client.models import Task

#: Builds one PUB's result from its task's answer (None for a PUB that needed no task).
Build = Callable[[Task | None], Any]


class OnTheService:
    """What both primitives hold: the client, the seed, how long ``result()`` waits, and the
    simulation every task runs with: Aer's ``method`` and the ``noise`` (``{"device":
    "fake_sherbrooke"}`` or a model's parts; see GET /devices); None: the service's defaults,
    noiseless."""

    def __init__(
        self,
        url: str | None,
        api_key: str | None,
        seed: int | None,
        client: Client | None,
        timeout: float | None,
        method: str | None,
        noise: Mapping[str, Any] | None,
    ) -> None:
        self.client = client or Client(url, api_key)
        self.seed = seed
        self.timeout = timeout
        self.simulation = {"method": method, "noise": noise}


def submit_all(
    client: Client, pubs: Sequence[Any], submit: Callable[[int, Any], tuple[str | None, Build]]
) -> tuple[list[str | None], list[Build]]:
    """Each PUB's task, in order. When one is refused, those already submitted are cancelled
    (as far as the service still can) before the refusal is raised."""
    task_ids: list[str | None] = []
    builds: list[Build] = []
    try:
        for index, pub in enumerate(pubs):
            task_id, build = submit(index, pub)
            task_ids.append(task_id)
            builds.append(build)
    except BaseException:
        for task_id in filter(None, task_ids):
            try:
                client.cancel(task_id)
            except QcexecError:
                pass
        raise
    return task_ids, builds


class QcexecJob(BasePrimitiveJob[PrimitiveResult, JobStatus]):
    """``task_ids`` has one entry per PUB (None where the PUB needed no task)."""

    def __init__(
        self,
        client: Client,
        task_ids: Sequence[str | None],
        builds: Sequence[Build],
        metadata: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> None:
        super().__init__(str(uuid.uuid4()), task_ids=list(task_ids))
        self._client = client
        self.task_ids = list(task_ids)
        self._builds = list(builds)
        self._metadata = metadata or {}
        self._timeout = timeout
        self._result: PrimitiveResult | None = None

    def _tasks(self) -> list[Task]:
        return [self._client.get(task_id) for task_id in self.task_ids if task_id]

    def status(self) -> JobStatus:
        if self._result is not None:
            return JobStatus.DONE
        states = {task.state for task in self._tasks()}
        if "failed" in states:
            return JobStatus.ERROR
        if "cancelled" in states:
            return JobStatus.CANCELLED
        if states <= {"completed"}:
            return JobStatus.DONE
        return JobStatus.RUNNING if "running" in states else JobStatus.QUEUED

    def done(self) -> bool:
        return self.status() == JobStatus.DONE

    def running(self) -> bool:
        return self.status() == JobStatus.RUNNING

    def cancelled(self) -> bool:
        return self.status() == JobStatus.CANCELLED

    def in_final_state(self) -> bool:
        return self.status() in (JobStatus.DONE, JobStatus.ERROR, JobStatus.CANCELLED)

    def cancel(self) -> bool:
        """Ask the service to stop every task of the job; True if any was still unfinished."""
        asked = False
        for task_id in self.task_ids:
            if task_id:
                try:
                    self._client.cancel(task_id)
                    asked = True
                except Conflict:
                    pass
        return asked

    def result(self, timeout: float | None = None) -> PrimitiveResult:
        """Waits for every task (``timeout`` for all of them; WaitTimeout after it); a task
        that failed or was cancelled raises TaskFailed."""
        if self._result is None:
            timeout = timeout if timeout is not None else self._timeout
            deadline = None if timeout is None else time.monotonic() + timeout
            results = []
            for task_id, build in zip(self.task_ids, self._builds, strict=True):
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                task = self._client.wait(task_id, timeout=left) if task_id else None
                if task is not None and task.status != "completed":
                    raise TaskFailed(task)
                results.append(build(task))
            self._result = PrimitiveResult(results, metadata={"version": 2, **self._metadata})
        return self._result
