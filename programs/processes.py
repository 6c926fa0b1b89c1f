"""Child processes for work that must not run on an event loop: the one pool both the API's
program readers (:mod:`programs.workers`) and the processor's simulators
(:mod:`processor.pool`) stand on.

A parser or a simulator holds the GIL for as long as it runs, so threads would not keep an
event loop free; a process can also be killed at its time limit, cannot take the machine's
memory (``RLIMIT_AS``), and is replaced when it dies. Workers fork from a server that already
imported what they need (``preload``), so a replacement starts in milliseconds. Each user maps
the pool's two failures, :class:`TimedOut` and :class:`WorkerDied`, to errors of its own.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
import resource
from collections.abc import Callable, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from pebble import ProcessExpired, ProcessPool


class TimedOut(Exception):
    """The call passed its time limit; its worker process was stopped."""


class WorkerDied(Exception):
    """The worker process running the call died (out of memory, a crash in native code)."""

    def __init__(self, exitcode: int | None) -> None:
        super().__init__(f"exit code {exitcode}")
        self.exitcode = exitcode


class Stopped(Exception):
    """The call was stopped by its caller's event; its worker process was stopped."""


def limit_memory(megabytes: int) -> None:
    """Cap this process's address space (a worker's initializer calls it last)."""
    if megabytes > 0:
        size = megabytes * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (size, size))


def _start_worker(nice: int, memory_mb: int) -> None:
    """In each worker, before its first call: a lower CPU priority (the parent's event loop,
    the broker and the API answer first), the parser's table of exported gate definitions
    built, start-up objects out of the collector's view (``gc.freeze``: every full collection
    would scan them again), then the address-space limit."""
    from programs.exported import exported_gates

    if nice:
        os.nice(nice)
    exported_gates()
    gc.collect()
    gc.freeze()
    limit_memory(memory_mb)


class WorkerPool:
    """``workers`` processes forked from a server that imported ``preload``, each started by
    :func:`_start_worker` (``nice``, ``memory_mb``)."""

    def __init__(
        self, workers: int, preload: Sequence[str], nice: int = 0, memory_mb: int = 0
    ) -> None:
        self.workers = workers
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(list(preload))
        self._pool = ProcessPool(
            max_workers=workers,
            context=context,
            initializer=_start_worker,
            initargs=(nice, memory_mb),
        )

    def warm_up(self, timeout_s: float) -> None:
        """Start every worker now, so the first calls do not wait for process start-up."""
        futures = [self._pool.schedule(os.getpid) for _ in range(self.workers)]
        for future in futures:
            future.result(timeout=timeout_s)

    async def call(
        self,
        function: Callable[..., Any],
        args: Sequence[Any] = (),
        kwargs: dict[str, Any] | None = None,
        *,
        timeout_s: float,
        stop: asyncio.Event | None = None,
    ) -> Any:
        """``function(*args, **kwargs)`` in a worker. Raises :class:`TimedOut` past
        ``timeout_s``, :class:`WorkerDied` when the worker died, :class:`Stopped` when ``stop``
        was set first; the worker is stopped in each case, and when the caller is cancelled."""
        future = self._pool.schedule(function, args=args, kwargs=kwargs or {}, timeout=timeout_s)
        outcome = asyncio.wrap_future(future)
        stopping = asyncio.ensure_future(stop.wait()) if stop is not None else None
        try:
            if stopping is not None:
                await asyncio.wait([outcome, stopping], return_when=asyncio.FIRST_COMPLETED)
                if not outcome.done():
                    future.cancel()  # pebble stops the worker process that was running it
                    raise Stopped
            return await outcome
        except FutureTimeout:
            raise TimedOut from None
        except ProcessExpired as exc:
            raise WorkerDied(exc.exitcode) from None
        except asyncio.CancelledError:
            future.cancel()
            raise
        finally:
            if stopping is not None:
                stopping.cancel()

    def close(self) -> None:
        self._pool.stop()
        self._pool.join(timeout=10)
