"""The benchmark's circuits, and the in-process way to turn one into counts.

Every workload is one OpenQASM 3 program, submitted many times with a different simulator
seed each time; every task parses its program again (the service has no parse cache and
neither do the baselines).
"""

from __future__ import annotations

import math
import statistics
import time
import warnings
from dataclasses import dataclass, field
from functools import cache

from qiskit import QuantumCircuit, qasm3
from qiskit.circuit.random import random_circuit
from qiskit_aer import AerSimulator

from processor.simulate import prepare
from tests.helpers import BELL
from tests.reading import parse_program

#: Tasks per phase of a full run (``--scale`` multiplies them): in-process baselines, light
#: load (one task at a time), burst (ingest and saturated throughput), closed loop (latency at
#: saturation). Sized so that a full run of all three takes a few minutes on 2 cores.
DEFAULT_SIZES = {
    "bell": {"baseline": 600, "light": 400, "burst": 3000, "batch": 3000, "closed": 800},
    "ghz10": {"baseline": 300, "light": 200, "burst": 1500, "batch": 1500, "closed": 400},
    "rand20": {"baseline": 24, "light": 30, "burst": 60, "batch": 20, "closed": 40},
}
#: Fewest tasks per phase whatever the scale, so that every statistic has something to chew on.
MIN_SIZES = {"baseline": 4, "light": 5, "burst": 10, "batch": 10, "closed": 8}


@dataclass
class Workload:
    name: str
    qasm: str
    description: str
    sizes: dict[str, int] = field(default_factory=dict)

    @property
    def bytes(self) -> int:
        return len(self.qasm.encode())


def ghz(qubits: int) -> QuantumCircuit:
    circuit = QuantumCircuit(qubits, qubits)
    circuit.h(0)
    for i in range(qubits - 1):
        circuit.cx(i, i + 1)
    circuit.measure(range(qubits), range(qubits))
    return circuit


def random_program(qubits: int, depth: int, seed: int) -> str:
    return qasm3.dumps(random_circuit(qubits, depth, measure=True, seed=seed))


def build_workloads(names: list[str], scale: float, rand_depth: int, rand_seed: int) -> list:
    programs = {
        "bell": (BELL, "Bell pair, 2 qubits: overhead-dominated"),
        "ghz10": (qasm3.dumps(ghz(10)), "GHZ state, 10 qubits"),
        "rand20": (
            random_program(20, rand_depth, rand_seed),
            f"random_circuit(20, {rand_depth}, measure=True, seed={rand_seed})",
        ),
    }
    unknown = set(names) - programs.keys()
    if unknown:
        raise ValueError(f"unknown workload(s) {sorted(unknown)}; known: {sorted(programs)}")
    workloads = []
    for name in names:
        qasm, description = programs[name]
        sizes = {
            phase: max(MIN_SIZES[phase], math.ceil(count * scale))
            for phase, count in DEFAULT_SIZES[name].items()
        }
        workloads.append(Workload(name, qasm, description, sizes))
    return workloads


# --- Turning a program into counts in-process (the baselines' building blocks) ---------------


@cache
def simulator(threads: int = 0, parallel_experiments: int = 1) -> AerSimulator:
    """0 threads: Aer's default (every core)."""
    return AerSimulator(max_parallel_threads=threads, max_parallel_experiments=parallel_experiments)


#: The parsers a baseline may use: Qiskit's two, and the service's own (``parse_program``: the
#: Rust parser, through the rewriting of what Qiskit's exporter writes, else the ANTLR one).
PARSERS = ("loads", "loads_experimental", "qcexec")


def parse(text: str, parser: str) -> QuantumCircuit:
    if parser == "loads_experimental":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ExperimentalWarning on every call
            return qasm3.loads_experimental(text)
    if parser == "qcexec":
        return parse_program(text)
    return qasm3.loads(text)


def executable(circuit: QuantumCircuit, backend: AerSimulator) -> QuantumCircuit:
    """The cheapest circuit the simulator runs with the same meaning: gates it does not run
    replaced by their definitions (far cheaper than a transpile), transpiled only if need be."""
    return prepare(circuit, backend)


def counts_of(result, index: int = 0) -> dict[str, int]:
    if not result.success:
        raise RuntimeError(f"simulation failed: {result.status}")
    return dict(result.get_counts(index))


def choose_parser(text: str, shots: int = 1024, seed: int = 11) -> str:
    """The fastest of :data:`PARSERS` that reads this program into a circuit with the same
    counts as ``qasm3.loads`` (Qiskit's native parser refuses gate definitions, for one)."""
    backend = simulator(1)

    def counts(parser: str) -> dict[str, int]:
        circuit = executable(parse(text, parser), backend)
        return counts_of(backend.run(circuit, shots=shots, seed_simulator=seed).result())

    reference = counts("loads")
    times = {"loads": median_ms(lambda: parse(text, "loads"), 3)}
    for parser in PARSERS[1:]:
        try:
            same = counts(parser) == reference
        except Exception:
            continue
        if same:
            times[parser] = median_ms(lambda parser=parser: parse(text, parser), 3)
    return min(times, key=times.__getitem__)


def median_ms(call, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)
