"""One submission in, one terminal result out: the error and cancellation policy of the
processor."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Literal

from redis.exceptions import RedisError

from processor.pool import SimulationPool, TaskCancelled, WorkerCrashed
from programs.errors import ProgramError
from qcexec.view import Claim, TaskView, running_entry
from schemas.events import TaskError, TaskResult, TaskSubmitted, utcnow

log = logging.getLogger(__name__)

#: A worker that dies may have been killed for reasons of its own (the machine's memory);
#: a program that kills it this many times in a row fails.
CRASH_ATTEMPTS = 2
#: Why a task ends ``cancelled`` without running, by what the view said when it was claimed.
NOT_RUN = {
    Claim.CANCELLED: "cancelled before it started",
    Claim.WITHDRAWN: "not accepted: the API answered 503 before the log acknowledged it",
}


class Cancellations:
    """The tasks this processor is running, so that a cancellation can reach them."""

    def __init__(self) -> None:
        self._running: dict[str, asyncio.Event] = {}

    @contextlib.contextmanager
    def running(self, task_id: str) -> Iterator[asyncio.Event]:
        event = self._running.setdefault(task_id, asyncio.Event())
        try:
            yield event
        finally:
            self._running.pop(task_id, None)

    def cancel(self, task_id: str) -> bool:
        """Stop the task if it runs here; returns whether it did."""
        event = self._running.get(task_id)
        if event is None:
            return False
        event.set()
        return True


async def _claim(view: TaskView, task: TaskSubmitted, started_at: datetime, name: str) -> Claim:
    """Mark the task running in the view; ``run``, ``done``, or a key of :data:`NOT_RUN`.
    Without Redis the task runs anyway: the view is a convenience here, the log is what
    counts."""
    try:
        return await view.claim(running_entry(task, started_at, name))
    except (RedisError, OSError) as exc:
        log.warning("task %s: could not mark it running: %r", task.task_id, exc)
        return Claim.RUN


async def execute(
    task: TaskSubmitted,
    pool: SimulationPool,
    processor: str,
    view: TaskView,
    cancellations: Cancellations,
) -> TaskResult | None:
    """Run a task and say how it ended; None when its outcome is already known (a redelivered
    record). Never raises for anything the program did."""
    started_at, clock = utcnow(), time.perf_counter()
    claim = await _claim(view, task, started_at, processor)
    if claim == Claim.DONE:
        log.info("task %s already has its outcome; not run again", task.task_id)
        return None
    outcome = None
    error: TaskError | None = None
    if claim in NOT_RUN:
        error = TaskError(code="cancelled", message=NOT_RUN[claim])
    else:
        with cancellations.running(task.task_id) as cancel:
            for attempt in range(1, CRASH_ATTEMPTS + 1):
                try:
                    outcome = await pool.run(task, cancel)
                    break
                except ProgramError as exc:
                    error = TaskError(code=exc.code, message=str(exc))
                    break
                except TaskCancelled as exc:
                    error = TaskError(code="cancelled", message=str(exc))
                    break
                except WorkerCrashed as exc:
                    log.warning("task %s: %s (attempt %d)", task.task_id, exc, attempt)
                    error = TaskError(code="worker_crashed", message=str(exc))
                except Exception as exc:  # the simulator's own errors are the program's outcome
                    log.warning("task %s: simulation error: %r", task.task_id, exc)
                    message = str(exc) or type(exc).__name__
                    error = TaskError(code="simulation_error", message=message)
                    break
    counts, memory, dialect, results = (
        outcome if outcome is not None else (None, None, task.dialect, None)
    )
    status: Literal["completed", "failed", "cancelled"] = (
        "completed" if outcome is not None else "failed"
    )
    if error is not None and error.code == "cancelled":
        status = "cancelled"
    return TaskResult(
        task_id=task.task_id,
        status=status,
        counts=counts,
        memory=memory,
        results=results,
        sweep=task.sweep,
        error=error if outcome is None else None,
        shots=task.shots,
        seed=task.seed,
        dialect=dialect,
        method=task.method,
        noise=task.noise,
        overrides=task.overrides,
        owner=task.owner,
        generation=task.generation,
        submitted_at=task.submitted_at,
        started_at=started_at if claim == Claim.RUN else None,
        finished_at=utcnow(),
        duration_ms=(time.perf_counter() - clock) * 1000,
        processor=processor,
    )
