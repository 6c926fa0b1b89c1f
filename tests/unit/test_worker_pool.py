"""The child processes under the program readers and the simulators
(:class:`programs.processes.WorkerPool`), with real processes: an answer, a time limit, a
worker that dies, a call stopped by its caller, the address-space limit; after each failure
the pool still serves."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator

import pytest

from programs.processes import Stopped, TimedOut, WorkerDied, WorkerPool

MEMORY_MB = 2048


def _square(value: int) -> int:
    return value * value


def _sleep(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def _exit(code: int) -> None:
    os._exit(code)


def _allocate(megabytes: int) -> str:
    try:
        block = bytearray(megabytes * 1024 * 1024)
        return f"allocated {len(block)}"
    except MemoryError:
        return "MemoryError"


def _pid() -> int:
    return os.getpid()


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    made = WorkerPool(1, ["programs.processes"], nice=1, memory_mb=MEMORY_MB)
    made.warm_up(timeout_s=120)
    yield made
    made.close()


def call(pool: WorkerPool, function, *args, timeout_s: float = 60, stop=None):
    return asyncio.run(pool.call(function, args, timeout_s=timeout_s, stop=stop))


def test_a_call_answers_in_another_process(pool: WorkerPool) -> None:
    assert call(pool, _square, 12) == 144
    assert call(pool, _pid) != os.getpid()


def test_a_call_past_its_time_limit_is_stopped(pool: WorkerPool) -> None:
    before = call(pool, _pid)
    with pytest.raises(TimedOut):
        call(pool, _sleep, 30, timeout_s=0.5)
    assert call(pool, _square, 3) == 9
    assert call(pool, _pid) != before  # the worker was replaced


def test_a_worker_that_dies_is_reported_with_its_exit_code(pool: WorkerPool) -> None:
    with pytest.raises(WorkerDied) as caught:
        call(pool, _exit, 3)
    assert caught.value.exitcode == 3
    assert call(pool, _square, 4) == 16


def test_a_call_stopped_by_its_caller_stops_its_worker(pool: WorkerPool) -> None:
    async def stopped_after(seconds: float) -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(seconds, stop.set)
        await pool.call(_sleep, (30,), timeout_s=60, stop=stop)

    before = call(pool, _pid)
    with pytest.raises(Stopped):
        asyncio.run(stopped_after(0.3))
    assert call(pool, _square, 5) == 25
    assert call(pool, _pid) != before


def test_the_address_space_limit_holds_in_the_worker(pool: WorkerPool) -> None:
    assert call(pool, _allocate, 2 * MEMORY_MB) == "MemoryError"
    assert call(pool, _allocate, 16).startswith("allocated")
