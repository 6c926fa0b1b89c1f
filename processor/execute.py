"""A job of the scheduler in, one terminal result per task out: the error and cancellation
policy of the processor.

A job is one heavy task, or a batch of small ones that share one hop to a worker. What must
not run is decided by the log's control table (:mod:`processor.control`); the view is then
claimed for the rest in one script call (it marks them running, and answers ``done`` for a
redelivered record whose outcome is already known).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from typing import Any, Literal

from redis.exceptions import RedisError

from processor.control import ControlTable
from processor.pool import SimulationPool, TaskCancelled, WorkerCrashed
from processor.provenance import provenance
from processor.simulate import Failure, Outcome
from programs.errors import ProgramError
from runtime.view import Claim, TaskView, running_entry
from schemas.events import TaskError, TaskResult, TaskSubmitted, repeated, utcnow

log = logging.getLogger(__name__)

#: A worker that dies may have been killed for reasons of its own (the machine's memory);
#: a program that kills it this many times in a row fails.
CRASH_ATTEMPTS = 2
#: Why a task ends ``cancelled`` without running, by what stopped it.
NOT_RUN = {
    Claim.CANCELLED: "cancelled before it started",
    Claim.WITHDRAWN: "not accepted: the API answered 503 before the log acknowledged it",
}


async def _claims(
    view: TaskView, tasks: list[TaskSubmitted], started_at: datetime, name: str
) -> list[Claim]:
    """Mark the tasks running in the view, in one call. Without Redis they run anyway: the
    view is a convenience here, the log is what counts."""
    try:
        return await view.claim_many([running_entry(task, started_at, name) for task in tasks])
    except (RedisError, OSError) as exc:
        log.warning("%d task(s): could not mark them running: %r", len(tasks), exc)
        return [Claim.RUN] * len(tasks)


def _decided(control: ControlTable, task: TaskSubmitted) -> Claim:
    """What the log's control table says of the task: cancelled, withdrawn, or run."""
    mark = control.stops(task.task_id, task.generation)
    if mark is None:
        return Claim.RUN
    return Claim.WITHDRAWN if mark.withdrawn else Claim.CANCELLED


async def _run_one(
    task: TaskSubmitted, pool: SimulationPool, control: ControlTable
) -> Outcome | TaskError:
    """One task alone on a worker, stoppable by its cancellation, retried once if its worker
    died."""
    error = TaskError(code="worker_crashed", message="not run")
    with control.running.running(task.task_id) as cancel:
        for attempt in range(1, CRASH_ATTEMPTS + 1):
            try:
                return await pool.run(task, cancel)
            except ProgramError as exc:
                return TaskError(code=exc.code, message=str(exc))
            except TaskCancelled as exc:
                return TaskError(code="cancelled", message=str(exc))
            except WorkerCrashed as exc:
                log.warning("task %s: %s (attempt %d)", task.task_id, exc, attempt)
                error = TaskError(code="worker_crashed", message=str(exc))
            except Exception as exc:  # the simulator's own errors are the program's outcome
                log.warning("task %s: simulation error: %r", task.task_id, exc)
                return TaskError(code="simulation_error", message=str(exc) or type(exc).__name__)
    return error


async def _run_batch(
    tasks: list[TaskSubmitted], pool: SimulationPool, control: ControlTable
) -> list[Outcome | TaskError]:
    """Small tasks in one hop; if that hop fails as a whole (its worker died, or the time
    limit passed), each task runs alone to get an outcome of its own."""
    try:
        answers = await pool.run_many(tasks)
    except (WorkerCrashed, ProgramError) as exc:
        log.warning("a batch of %d tasks failed as a whole (%s): each runs alone", len(tasks), exc)
        return [await _run_one(task, pool, control) for task in tasks]
    return [
        TaskError(code=answer.code, message=answer.message)
        if isinstance(answer, Failure)
        else answer[0]
        for answer in answers
    ]


def _result(
    task: TaskSubmitted,
    outcome: Outcome | TaskError,
    processor: str,
    started_at: datetime | None,
    duration_ms: float,
) -> TaskResult:
    if isinstance(outcome, TaskError):
        status: Literal["completed", "failed", "cancelled"] = (
            "cancelled" if outcome.code == "cancelled" else "failed"
        )
        ran: dict[str, Any] = {"status": status, "error": outcome, "provenance": provenance(task)}
    else:
        ran = {
            "status": "completed",
            "counts": outcome.counts,
            "memory": outcome.memory,
            "dialect": outcome.dialect,
            "results": outcome.results,
            "provenance": provenance(task, outcome.aer_method, outcome.calibrated_at),
        }
    return TaskResult(
        **repeated(task) | ran,
        started_at=started_at,
        finished_at=utcnow(),
        duration_ms=duration_ms,
        processor=processor,
    )


async def execute(
    tasks: list[TaskSubmitted],
    pool: SimulationPool,
    processor: str,
    view: TaskView,
    control: ControlTable,
) -> list[TaskResult | None]:
    """Run a job and say how each of its tasks ended, in order; None for a task whose outcome
    is already known (a redelivered record). Never raises for anything a program did."""
    started_at, clock = utcnow(), time.perf_counter()
    decided = [_decided(control, task) for task in tasks]
    to_run = [task for task, claim in zip(tasks, decided, strict=True) if claim is Claim.RUN]
    # The view's claim (the running state, and whether a redelivered record already has its
    # outcome) goes out while the tasks run: what must not run was decided by the log above,
    # so the claim's round trip need not come first. A task the claim finds done is not
    # answered again (its run was wasted work, at least once).
    claiming = asyncio.create_task(_claims(view, to_run, started_at, processor))
    try:
        outcomes: list[Outcome | TaskError]
        if len(to_run) == 1:
            outcomes = [await _run_one(to_run[0], pool, control)]
        elif to_run:
            outcomes = await _run_batch(to_run, pool, control)
        else:
            outcomes = []
        claimed = iter(await claiming)
    finally:
        claiming.cancel()
    claims = [next(claimed) if claim is Claim.RUN else claim for claim in decided]
    elapsed_ms = (time.perf_counter() - clock) * 1000
    ran = iter(outcomes)
    results: list[TaskResult | None] = []
    for task, first, claim in zip(tasks, decided, claims, strict=True):
        outcome = next(ran) if first is Claim.RUN else None
        if claim is Claim.DONE:
            log.info("task %s already has its outcome; not run again", task.task_id)
            results.append(None)
        elif claim in NOT_RUN:
            error = TaskError(code="cancelled", message=NOT_RUN[claim])
            results.append(_result(task, error, processor, None, elapsed_ms))
        else:
            assert outcome is not None
            results.append(_result(task, outcome, processor, started_at, elapsed_ms))
    return results
