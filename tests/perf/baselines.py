"""The in-process baselines: what the same circuits cost without the service around them.

- naive: ``qiskit.qasm3.loads`` then ``AerSimulator().run(...)`` one circuit at a time in one
  process (transpiled first, at optimization level 0, when the simulator cannot run it as is);
- best: the fastest of several ways to use the whole machine (process pools of single-threaded
  simulators, batched ``run([...])`` calls, Aer's own threads), each with the fastest parser
  that gives the same circuit. That is the limit the service is measured against.

Start-up (process pools, imports, the first simulation) is outside every timing. Each
baseline runs its circuits in ``ROUNDS`` timed rounds and the fastest round counts: a noisy
neighbour on a shared machine can slow a round down, never speed one up, and the limit is
what this machine can do.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

from qiskit import qasm3, transpile

from processor.simulate import runs_natively
from tests.perf.workloads import Workload, counts_of, executable, parse, simulator

#: Timed rounds per baseline (and per strategy of the best one), each on a share of the circuits.
ROUNDS = 3


def _checked(counts: dict[str, int], shots: int) -> int:
    if sum(counts.values()) != shots:
        raise RuntimeError(f"counts add up to {sum(counts.values())}, not {shots} shots")
    return 1


def _chunks(n: int, parts: int) -> list[range]:
    size = max(1, -(-n // parts))
    return [range(i, min(n, i + size)) for i in range(0, n, size)]


def _fastest_round(run: Callable[[list[int]], int], tasks: int) -> dict:
    """``run(seeds)`` returns how many circuits it ran; timed over ``ROUNDS`` shares of the
    ``tasks`` seeds."""
    rates = []
    for share in _chunks(tasks, ROUNDS):
        seeds = list(share)
        start = time.perf_counter()
        done = run(seeds)
        elapsed = time.perf_counter() - start
        if done != len(seeds):
            raise RuntimeError(f"{done} of {len(seeds)} circuits ran")
        rates.append(len(seeds) / elapsed)
    fastest = max(rates)
    return {
        "per_s": fastest,
        "ms_per_task": 1000 / fastest,
        "rounds_per_s": [round(rate, 2) for rate in rates],
    }


def naive(workload: Workload, tasks: int, shots: int) -> dict:
    backend = simulator()  # AerSimulator(): every core for the statevector
    needs_transpile = not runs_natively(qasm3.loads(workload.qasm), backend)

    def one(seed: int) -> dict[str, int]:
        circuit = qasm3.loads(workload.qasm)
        if needs_transpile:
            circuit = transpile(circuit, backend, optimization_level=0)
        return backend.run(circuit, shots=shots, seed_simulator=seed).result().get_counts()

    first = one(0)  # warm-up, and the reference counts for seed 0
    timed = _fastest_round(lambda seeds: sum(_checked(one(seed), shots) for seed in seeds), tasks)
    return {"tasks": tasks, **timed, "transpiled": needs_transpile, "counts_seed0": dict(first)}


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
    time.sleep(0.2)  # so that the other workers take the other warm-ups
    return os.getpid()


def _warm_pool(pool: ProcessPoolExecutor, workers: int, parser: str, text: str, shots: int):
    """Start every worker and run a circuit in each (imports, first simulation)."""
    warmed: set[int] = set()
    for _ in range(20):
        warmed |= set(pool.map(_warm, *zip(*[(parser, text, shots)] * workers, strict=True)))
        if len(warmed) >= workers:
            return
    raise RuntimeError(f"only {len(warmed)} of {workers} pool workers answered")


def best(workload: Workload, tasks: int, shots: int, parser: str, workers: int) -> dict:
    """Every strategy on the same ``tasks`` circuits; the fastest one is the limit.

    A batched ``run([...])`` gives its circuits seeds Aer derives from the first one
    (``seed + 2113 * i``), not each task's own: fine for a speed limit, not for the service,
    which promises the same counts for the same seed."""
    cores = os.cpu_count() or 1
    qasm = workload.qasm
    strategies: dict[str, dict] = {}

    def texts(seeds: list[int]) -> list[str]:
        return [qasm] * len(seeds)

    _serial([qasm], [0], shots, parser, 0)  # warm-up of this process's simulators
    strategies["1 process, Aer threads on every core"] = _fastest_round(
        lambda seeds: _serial(texts(seeds), seeds, shots, parser, 0), tasks
    )
    strategies["1 process, one batched run(), parallel experiments"] = _fastest_round(
        lambda seeds: _batched(texts(seeds), seeds, shots, parser, 0, cores), tasks
    )
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        _warm_pool(pool, workers, parser, qasm, shots)

        def pooled(seeds: list[int], batched: bool) -> int:
            # Four chunks per worker so that an uneven finish costs little.
            chunks = [[seeds[i] for i in c] for c in _chunks(len(seeds), workers * 4)]
            futures = [
                pool.submit(_batched, texts(c), c, shots, parser, 1, 1)
                if batched
                else pool.submit(_serial, texts(c), c, shots, parser, 1)
                for c in chunks
            ]
            return sum(f.result() for f in futures)

        strategies[f"pool of {workers} processes, 1 thread each"] = _fastest_round(
            lambda seeds: pooled(seeds, False), tasks
        )
        strategies[f"pool of {workers} processes, batched run() per chunk"] = _fastest_round(
            lambda seeds: pooled(seeds, True), tasks
        )
    winner = max(strategies, key=lambda name: strategies[name]["per_s"])
    return {
        "tasks": tasks,
        "parser": parser,
        "strategy": winner,
        **strategies[winner],
        "strategies": strategies,
    }
