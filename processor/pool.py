"""Worker processes that run the simulator, so the event loop never blocks on it.

A task over its time limit has its worker process killed (pebble replaces it); a worker that
dies (out of memory, a crash in native code) is reported, and the pool keeps serving.
"""

from __future__ import annotations

import asyncio
import multiprocessing

from processor.simulate import Answer, Failure, Outcome, Phases, run_task, run_tasks
from programs.errors import ProgramError
from programs.processes import Stopped, TimedOut, WorkerDied, WorkerPool
from runtime import metrics, telemetry
from runtime.settings import Settings
from schemas.events import TaskSubmitted


def _observe(phases: Phases) -> None:
    """The worker process timed its phases; they become spans and metrics of this process."""
    for phase, (start_ns, end_ns) in phases.items():
        telemetry.tracer().start_span(phase, start_time=start_ns).end(end_time=end_ns)
        metrics.processor_simulation.labels(phase).observe((end_ns - start_ns) / 1e9)


class WorkerCrashed(Exception):
    """The worker process running a task died; the task may be retried."""


class TaskCancelled(Exception):
    """A client cancelled the task while it ran; its worker process was stopped."""


class SimulationPool:
    """The processor's workers, as its settings say: how many, their limits (time, the
    simulator's memory, the process's address space) and their CPU priority."""

    def __init__(self, settings: Settings) -> None:
        self.workers = workers = settings.processor_workers
        self.limits = settings.limits
        self.max_memory_mb = settings.qc_task_max_memory_mb
        self.time_limit_s = settings.qc_task_time_limit_ms / 1000
        metrics.processor_time_limit.set(self.time_limit_s)
        self.threads = max(1, (multiprocessing.cpu_count() or 1) // workers)
        #: A sweep's points are independent: Aer runs them in parallel over every core (its
        #: parallel experiments), the same counts as on one thread, in a fraction of the time.
        self.sweep_threads = multiprocessing.cpu_count() or 1
        # The workers fork from a server that already imported Qiskit and Aer; they run the
        # simulations at a lower priority (``nice``), yielding the CPU to the processor's own
        # event loop, to the broker and to the API where they share a machine.
        self._pool = WorkerPool(
            workers,
            ["processor.simulate"],
            settings.processor_worker_nice,
            settings.worker_memory_mb,
        )

    def warm_up(self) -> None:
        """Start every worker now, so the first tasks do not wait for process start-up."""
        self._pool.warm_up(timeout_s=60)

    async def run(self, task: TaskSubmitted, cancel: asyncio.Event) -> Outcome:
        """Counts of one task. Raises :class:`ProgramError` for a permanent failure,
        :class:`WorkerCrashed` when the worker process died, :class:`TaskCancelled` when
        ``cancel`` was set first."""
        with (
            telemetry.tracer().start_as_current_span(
                "run", attributes={"qcexec.shots": task.shots}
            ),
            metrics.RUNS.track(),  # its age: qcexec_processor_oldest_run_seconds
        ):
            outcome, phases = await self._run(task, cancel)
            _observe(phases)
            return outcome

    async def run_many(self, tasks: list[TaskSubmitted]) -> list[Answer]:
        """Several small tasks in one hop to one worker (see ``run_tasks``), within one
        time limit for all of them. Raises :class:`WorkerCrashed` when the worker died and
        :class:`ProgramError` (``time_limit_exceeded``) at the limit: the caller then runs
        each task alone, to give each its own outcome."""
        with (
            telemetry.tracer().start_as_current_span(
                "run batch", attributes={"qcexec.batch_size": len(tasks)}
            ),
            metrics.RUNS.track(),
        ):
            try:
                answers: list[Answer] = await self._pool.call(
                    run_tasks,
                    (tasks, self.limits, self.max_memory_mb, self.threads),
                    timeout_s=self.time_limit_s,
                )
            except TimedOut:
                raise ProgramError("time limit exceeded", code="time_limit_exceeded") from None
            except WorkerDied as exc:
                raise WorkerCrashed(f"the worker process died (exit code {exc.exitcode})") from None
            for answer in answers:
                if not isinstance(answer, Failure):
                    _observe(answer[1])
            return answers

    async def _run(self, task: TaskSubmitted, cancel: asyncio.Event) -> tuple[Outcome, Phases]:
        points = len(task.parameters or ())
        threads = self.sweep_threads if points > 1 else self.threads
        try:
            ran: tuple[Outcome, Phases] = await self._pool.call(
                run_task,
                (task, self.limits, self.max_memory_mb, threads),
                timeout_s=self.time_limit_s,
                stop=cancel,
            )
            return ran
        except Stopped:
            raise TaskCancelled("stopped while running") from None
        except TimedOut:
            raise ProgramError(
                f"time limit exceeded ({self.time_limit_s * 1000:.0f} ms)",
                code="time_limit_exceeded",
            ) from None
        except WorkerDied as exc:
            raise WorkerCrashed(f"the worker process died (exit code {exc.exitcode})") from None

    def close(self) -> None:
        self._pool.close()
