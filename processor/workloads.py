"""Beyond one circuit's counts: the points of a parameter sweep and the expectation values of
observables, each run as one simulator call over every point (never a call per point).

Counts come from Aer with the sweep's parameter bindings. Expectation values come from Qiskit's
estimator primitives on Aer, so their semantics are EstimatorV2's: with ``shots`` 0, Aer's own
exact expectation values (``qiskit_aer.primitives.EstimatorV2`` at precision 0, standard error
0); with shots, Qiskit's ``BackendEstimatorV2`` measures each group of commuting Pauli strings
``shots`` times and gives the estimate and its standard error from the sample.
"""

from __future__ import annotations

import math

import numpy as np
from qiskit import QuantumCircuit
from qiskit.primitives import BackendEstimatorV2
from qiskit.quantum_info import SparsePauliOp
from qiskit.result import Result
from qiskit_aer import AerSimulator
from qiskit_aer.primitives import EstimatorV2 as AerEstimator

from programs.errors import ProgramError
from schemas.events import PointResult

Point = dict[str, float]


def _values(circuit: QuantumCircuit, points: list[Point]) -> np.ndarray | None:
    """The points as an array of parameter values, in the order of ``circuit.parameters``."""
    if not circuit.parameters:
        return None
    return np.array([[point[p.name] for p in circuit.parameters] for point in points], dtype=float)


def succeeded(result: Result) -> Result:
    """Aer's result, or the program's failure (out of memory, a simulation error)."""
    if not result.success:
        message = result.results[0].status if result.results else str(result.status)
        code = "out_of_memory" if "Insufficient memory" in message else "simulation_error"
        raise ProgramError(message.strip(), code=code)
    return result


def sweep_counts(
    runnable: QuantumCircuit, backend: AerSimulator, shots: int, seed: int, points: list[Point]
) -> list[dict[str, int]]:
    """Counts of every point, from one run with all the bindings."""
    binds = None
    if runnable.parameters:
        binds = [{p: [point[p.name] for point in points] for p in runnable.parameters}]
    job = backend.run(runnable, shots=shots, seed_simulator=seed, parameter_binds=binds)
    result = succeeded(job.result())
    return [dict(result.get_counts(i)) for i in range(len(points))]


def _precision(shots: int) -> float:
    """The precision BackendEstimatorV2 turns into exactly ``shots`` (ceil(1 / precision**2))."""
    precision = 1 / math.sqrt(shots)
    while math.ceil(1 / precision**2) > shots:
        precision = math.nextafter(precision, 1.0)
    return precision


def expectation_values(
    runnable: QuantumCircuit,
    observables: list[dict[str, float]],
    points: list[Point],
    shots: int,
    seed: int,
    threads: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Expectation values and standard errors, shaped (points, observables)."""
    circuit = runnable.remove_final_measurements(inplace=False)
    if any(i.operation.name == "measure" for i in circuit.data):
        raise ProgramError("observables need a circuit whose measurements all come at the end")
    operators = np.empty((1, len(observables)), dtype=object)
    for index, terms in enumerate(observables):
        operators[0, index] = SparsePauliOp.from_list(list(terms.items()))
    values = _values(circuit, points)
    if values is not None:
        pub = (circuit, operators, values.reshape(len(points), 1, -1))
    else:
        pub = (circuit, operators.reshape(-1))
    if shots == 0:
        estimator = AerEstimator(
            options={
                "backend_options": {"max_parallel_threads": threads},
                "run_options": {"seed_simulator": seed},
            }
        )
        data = estimator.run([pub], precision=0).result()[0].data
    else:
        backend = AerSimulator(max_parallel_threads=threads)
        options = {"default_precision": _precision(shots), "seed_simulator": seed}
        data = BackendEstimatorV2(backend=backend, options=options).run([pub]).result()[0].data
    evs = np.asarray(data.evs, dtype=float).reshape(max(1, len(points)), len(observables))
    stds = np.asarray(data.stds, dtype=float).reshape(evs.shape)
    return evs, stds


def point_results(
    runnable: QuantumCircuit,
    backend: AerSimulator,
    shots: int,
    seed: int,
    points: list[Point] | None,
    observables: list[dict[str, float]] | None,
    threads: int,
) -> list[PointResult]:
    """Every point's counts (when the circuit measures and there are shots) and expectation
    values, in order."""
    swept = points or [{}]
    counts: list[dict[str, int] | None] = [None] * len(swept)
    if shots and runnable.num_clbits:
        counts = list(sweep_counts(runnable, backend, shots, seed, swept))
    evs = stds = None
    if observables:
        evs, stds = expectation_values(runnable, observables, swept, shots, seed, threads)
    return [
        PointResult(
            parameters=point or None,
            counts=counts[i],
            expectation_values=None if evs is None else [float(v) for v in evs[i]],
            standard_errors=None if stds is None else [float(v) for v in stds[i]],
        )
        for i, point in enumerate(swept)
    ]
