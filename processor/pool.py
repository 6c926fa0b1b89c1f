"""Worker processes that run the simulator, so the event loop never blocks on it.

A task over its time limit has its worker process killed (pebble replaces it); a worker that
dies (out of memory, a crash in native code) is reported, and the pool keeps serving.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from pebble import ProcessExpired, ProcessPool

from processor.simulate import Answer, Outcome, Phases, run_program, run_programs
from programs.errors import ProgramError
from programs.exported import exported_gates
from programs.limits import Limits
from programs.workers import limit_memory
from runtime import metrics, telemetry
from runtime.startup import freeze_startup_objects
from schemas.events import TaskSubmitted


def _start_worker(nice: int, memory_mb: int) -> None:
    """In each worker process, before its first task: lower its priority by ``nice`` (the
    simulations yield the CPU to the processor's own event loop, to the broker and to the API
    where they share a machine), build the parser's table of exported gate definitions and
    freeze what start-up made; then cap its address space at ``memory_mb``."""
    os.nice(nice)
    exported_gates()
    freeze_startup_objects()
    limit_memory(memory_mb)


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
    def __init__(
        self,
        workers: int,
        limits: Limits,
        max_memory_mb: int,
        time_limit_s: float,
        nice: int = 0,
        memory_mb: int = 0,
    ) -> None:
        self.workers = workers
        self.limits = limits
        self.max_memory_mb = max_memory_mb
        self.time_limit_s = time_limit_s
        metrics.processor_time_limit.set(time_limit_s)
        self.threads = max(1, (multiprocessing.cpu_count() or 1) // workers)
        #: A sweep's points are independent: Aer runs them in parallel over every core (its
        #: parallel experiments), the same counts as on one thread, in a fraction of the time.
        self.sweep_threads = multiprocessing.cpu_count() or 1
        context = multiprocessing.get_context("forkserver")
        # Workers fork from a server that already imported Qiskit and Aer: a replacement for a
        # killed worker starts in milliseconds, not seconds.
        context.set_forkserver_preload(["processor.simulate"])
        self._pool = ProcessPool(
            max_workers=workers,
            context=context,
            initializer=_start_worker,
            initargs=(nice, memory_mb),
        )

    def warm_up(self) -> None:
        """Start every worker now, so the first tasks do not wait for process start-up."""
        futures = [self._pool.schedule(os.getpid) for _ in range(self.workers)]
        for future in futures:
            future.result(timeout=60)

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

    @staticmethod
    def _spec(task: TaskSubmitted) -> tuple[tuple, dict]:
        """What a worker needs of a task: its program, shots and seed, and its options."""
        options = {
            "memory": task.memory,
            "parameters": task.parameters,
            "observables": task.observables,
            "outputs": task.outputs,
            "method": task.method,
            "noise": task.noise,
        }
        return (task.qasm, task.shots, task.seed), options

    async def run_many(self, tasks: list[TaskSubmitted]) -> list[Answer]:
        """Several small tasks in one hop to one worker (see ``run_programs``), within one
        time limit for all of them. Raises :class:`WorkerCrashed` when the worker died and
        :class:`ProgramError` (``time_limit_exceeded``) at the limit: the caller then runs
        each task alone, to give each its own outcome."""
        with (
            telemetry.tracer().start_as_current_span(
                "run batch", attributes={"qcexec.batch_size": len(tasks)}
            ),
            metrics.RUNS.track(),
        ):
            future = self._pool.schedule(
                run_programs,
                args=(
                    [self._spec(task) for task in tasks],
                    self.limits,
                    self.max_memory_mb,
                    self.threads,
                ),
                timeout=self.time_limit_s,
            )
            try:
                answers = await asyncio.wrap_future(future)
            except FutureTimeout:
                raise ProgramError("time limit exceeded", code="time_limit_exceeded") from None
            except ProcessExpired as exc:
                raise WorkerCrashed(f"the worker process died (exit code {exc.exitcode})") from None
            except asyncio.CancelledError:
                future.cancel()
                raise
            for outcome, phases in answers:
                if outcome is not None:
                    assert isinstance(phases, dict)
                    _observe(phases)
            return answers

    async def _run(self, task: TaskSubmitted, cancel: asyncio.Event) -> tuple[Outcome, Phases]:
        points = len(task.parameters or ())
        threads = self.sweep_threads if points > 1 else self.threads
        (qasm, shots, seed), options = self._spec(task)
        future = self._pool.schedule(
            run_program,
            args=(qasm, shots, seed, self.limits, self.max_memory_mb, threads),
            kwargs=options,
            timeout=self.time_limit_s,
        )
        outcome = asyncio.wrap_future(future)
        cancelled = asyncio.ensure_future(cancel.wait())
        try:
            racing: list[asyncio.Future[Any]] = [outcome, cancelled]
            await asyncio.wait(racing, return_when=asyncio.FIRST_COMPLETED)
            if not outcome.done():
                future.cancel()  # pebble stops the worker process that was running it
                raise TaskCancelled("stopped while running")
            return outcome.result()
        except FutureTimeout:
            raise ProgramError(
                f"time limit exceeded ({self.time_limit_s * 1000:.0f} ms)",
                code="time_limit_exceeded",
            ) from None
        except ProcessExpired as exc:
            raise WorkerCrashed(f"the worker process died (exit code {exc.exitcode})") from None
        except asyncio.CancelledError:
            future.cancel()
            raise
        finally:
            cancelled.cancel()

    def close(self) -> None:
        self._pool.stop()
        self._pool.join(timeout=10)
