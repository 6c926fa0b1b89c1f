"""One submission in, one terminal result out: the error policy of the processor."""

from __future__ import annotations

import logging
import time

from processor.pool import SimulationPool, WorkerCrashed
from schemas.events import TaskError, TaskResult, TaskSubmitted, utcnow
from schemas.qasm import ProgramError

log = logging.getLogger(__name__)

#: A worker that dies may have been killed for reasons of its own (the machine's memory);
#: a program that kills it this many times in a row fails.
CRASH_ATTEMPTS = 2


async def execute(task: TaskSubmitted, pool: SimulationPool, processor: str) -> TaskResult:
    """Run a task and say how it ended. Never raises for anything the program did."""
    started_at, clock = utcnow(), time.perf_counter()
    counts: dict[str, int] | None = None
    error: TaskError | None = None
    for attempt in range(1, CRASH_ATTEMPTS + 1):
        try:
            counts = await pool.run(task)
            break
        except ProgramError as exc:
            error = TaskError(code=exc.code, message=str(exc))  # type: ignore[arg-type]
            break
        except WorkerCrashed as exc:
            log.warning("task %s: %s (attempt %d)", task.task_id, exc, attempt)
            error = TaskError(code="worker_crashed", message=str(exc))
        except Exception as exc:  # the simulator's own errors are the program's outcome
            log.warning("task %s: simulation error: %r", task.task_id, exc)
            error = TaskError(code="simulation_error", message=str(exc) or type(exc).__name__)
            break
    return TaskResult(
        task_id=task.task_id,
        status="completed" if counts is not None else "failed",
        counts=counts,
        error=None if counts is not None else error,
        shots=task.shots,
        seed=task.seed,
        submitted_at=task.submitted_at,
        started_at=started_at,
        finished_at=utcnow(),
        duration_ms=(time.perf_counter() - clock) * 1000,
        processor=processor,
    )
