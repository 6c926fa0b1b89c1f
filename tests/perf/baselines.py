"""The in-process baselines: what the same circuits cost without the service around them.

- naive: ``qiskit.qasm3.loads`` then ``AerSimulator().run(...)`` one circuit at a time in one
  process (transpiled first, at optimization level 0, when the simulator cannot run it as is);
- best: the fastest of several ways to use the whole machine (process pools of single-threaded
  simulators, batched ``run([...])`` calls, Aer's own threads), each with the fastest parser
  that gives the same circuit. That is the limit the service is measured against.

Start-up (process pools, imports, the first simulation) is outside every timing.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

from qiskit import qasm3, transpile

from tests.perf.workloads import (
    Workload,
    counts_of,
    executable,
    parse,
    runs_natively,
    simulator,
)


def _checked(counts: dict[str, int], shots: int) -> int:
    if sum(counts.values()) != shots:
        raise RuntimeError(f"counts add up to {sum(counts.values())}, not {shots} shots")
    return 1


def naive(workload: Workload, tasks: int, shots: int) -> dict:
    backend = simulator()  # AerSimulator(): every core for the statevector
    needs_transpile = not runs_natively(qasm3.loads(workload.qasm), backend)

    def one(seed: int) -> dict[str, int]:
        circuit = qasm3.loads(workload.qasm)
        if needs_transpile:
            circuit = transpile(circuit, backend, optimization_level=0)
        return backend.run(circuit, shots=shots, seed_simulator=seed).result().get_counts()

    first = one(0)  # warm-up, and the reference counts for seed 0
    start = time.perf_counter()
    for seed in range(tasks):
        _checked(one(seed), shots)
    elapsed = time.perf_counter() - start
    return {
        "tasks": tasks,
        "seconds": elapsed,
        "per_s": tasks / elapsed,
        "ms_per_task": elapsed / tasks * 1000,
        "transpiled": needs_transpile,
        "counts_seed0": dict(first),
    }


# --- best: strategies ------------------------------------------------------------------------


def _serial(texts: list[str], seeds: list[int], shots: int, parser: str, threads: int) -> int:
    backend = simulator(threads)
    done = 0
    for text, seed in zip(texts, seeds, strict=True):
        circuit = executable(parse(text, parser), backend)
        result = backend.run(circuit, shots=shots, seed_simulator=seed).result()
        done += _checked(counts_of(result), shots)
    return done


def _batched(
    texts: list[str], seeds: list[int], shots: int, parser: str, threads: int, experiments: int
) -> int:
    backend = simulator(threads, experiments)
    circuits = [executable(parse(text, parser), backend) for text in texts]
    result = backend.run(circuits, shots=shots, seed_simulator=seeds[0]).result()
    return sum(_checked(counts_of(result, i), shots) for i in range(len(circuits)))


def _warm(parser: str, text: str, shots: int) -> int:
    _serial([text], [0], shots, parser, 1)
    return os.getpid()


def _chunks(n: int, parts: int) -> list[range]:
    size = max(1, -(-n // parts))
    return [range(i, min(n, i + size)) for i in range(0, n, size)]


def _timed(run: Callable[[], int], tasks: int) -> dict:
    start = time.perf_counter()
    done = run()
    elapsed = time.perf_counter() - start
    if done != tasks:
        raise RuntimeError(f"{done} of {tasks} circuits ran")
    return {"seconds": elapsed, "per_s": tasks / elapsed, "ms_per_task": elapsed / tasks * 1000}


def best(
    workload: Workload,
    tasks: int,
    shots: int,
    parser: str,
    workers: int,
    on_pool: Callable[[list[int]], None] | None = None,
) -> dict:
    """Every strategy on the same ``tasks`` circuits; the fastest one is the limit."""
    texts, seeds = [workload.qasm] * tasks, list(range(tasks))
    cores = os.cpu_count() or 1
    strategies: dict[str, dict] = {}

    _serial(texts[:1], seeds[:1], shots, parser, 0)  # warm-up of this process's simulators
    strategies["1 process, Aer threads on every core"] = _timed(
        lambda: _serial(texts, seeds, shots, parser, 0), tasks
    )
    strategies["1 process, one batched run(), parallel experiments"] = _timed(
        lambda: _batched(texts, seeds, shots, parser, 0, cores), tasks
    )
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        # Start and warm every worker before any timing (a worker per concurrent warm-up).
        pids = list(pool.map(_warm, [parser] * workers, [workload.qasm] * workers, [shots] * 2))
        if on_pool is not None:
            on_pool(sorted(set(pids)) + [p.pid for p in pool._processes.values()])
        # Four chunks per worker so that an uneven finish costs little.
        chunks = _chunks(tasks, workers * 4)

        def pooled(batched: bool) -> int:
            futures = [
                pool.submit(
                    _batched, [texts[i] for i in c], [seeds[i] for i in c], shots, parser, 1, 1
                )
                if batched
                else pool.submit(
                    _serial, [texts[i] for i in c], [seeds[i] for i in c], shots, parser, 1
                )
                for c in chunks
            ]
            return sum(f.result() for f in futures)

        strategies[f"pool of {workers} processes, 1 thread each"] = _timed(
            lambda: pooled(False), tasks
        )
        strategies[f"pool of {workers} processes, batched run() per chunk"] = _timed(
            lambda: pooled(True), tasks
        )
    winner = max(strategies, key=lambda name: strategies[name]["per_s"])
    return {
        "tasks": tasks,
        "parser": parser,
        "strategy": winner,
        **strategies[winner],
        "strategies": strategies,
    }
