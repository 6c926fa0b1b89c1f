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
from qiskit.result.postprocess import format_counts_memory
from qiskit_aer import AerSimulator
from qiskit_aer.primitives import EstimatorV2 as AerEstimator

from processor.backends import Backend
from programs.errors import ProgramError
from schemas.events import ErrorCode, Output, PointResult

#: Probabilities below this are rounding left-overs of zero, not outcomes.
TINY = 1e-14

Point = dict[str, float]


def _values(circuit: QuantumCircuit, points: list[Point]) -> np.ndarray | None:
    """The points as an array of parameter values, in the order of ``circuit.parameters``."""
    if not circuit.parameters:
        return None
    return np.array([[point[p.name] for p in circuit.parameters] for point in points], dtype=float)


def succeeded(result: Result, used: list[str] | None = None) -> Result:
    """Aer's result, or the program's failure (out of memory, a simulation error); the method
    Aer reports it ran with is added to ``used``."""
    if not result.success:
        message = result.results[0].status if result.results else str(result.status)
        code: ErrorCode = (
            "out_of_memory" if "Insufficient memory" in message else "simulation_error"
        )
        raise ProgramError(message.strip(), code=code)
    if used is not None and result.results:
        method = result.results[0].metadata.get("method")
        if method:
            used.append(str(method))
    return result


def _binds(circuit: QuantumCircuit, points: list[Point]) -> list[dict] | None:
    """Aer's ``parameter_binds`` for every point at once (None without inputs)."""
    if not circuit.parameters:
        return None
    return [{p: [point[p.name] for point in points] for p in circuit.parameters}]


def sweep_counts(
    runnable: QuantumCircuit,
    backend: AerSimulator,
    shots: int,
    seed: int,
    points: list[Point],
    memory: bool = False,
    used: list[str] | None = None,
) -> list[tuple[dict[str, int], list[str] | None]]:
    """Counts (and each shot's outcome, with ``memory``) of every point, from one run with all
    the bindings."""
    binds = _binds(runnable, points)
    job = backend.run(
        runnable,
        shots=shots,
        seed_simulator=seed,
        memory=memory,
        parameter_binds=binds,
        # Aer binds each point as it runs instead of copying the circuit for each: the same
        # counts, in less time and memory.
        runtime_parameter_bind_enable=binds is not None,
    )
    result = succeeded(job.result(), used)
    keys: dict[str, dict[str, str]] = {}  # each outcome formatted once for every point
    return [
        (counts_of(result, i, keys), list(result.get_memory(i)) if memory else None)
        for i in range(len(points))
    ]


def counts_of(
    result: Result, index: int, keys: dict[str, dict[str, str]] | None = None
) -> dict[str, int]:
    """The counts of one experiment keyed as ``Result.get_counts`` keys them (Qiskit's bit
    strings, registers apart, the last register first), formatted once per distinct key
    shape: Qiskit formats every key through several string functions, which for a sweep of
    100 points took longer than the simulation. ``keys`` keeps the formatted keys across the
    experiments of one call (the points of a sweep share most of their outcomes)."""
    header = result.results[index].header
    header = header if isinstance(header, dict) else header.to_dict()
    raw: dict[str, int] | None = result.data(index).get("counts")
    if raw is None:
        return dict(result.get_counts(index))  # Qiskit's own answer (or its error)
    slots = header.get("memory_slots") or 0
    sizes = [size for _, size in reversed(header.get("creg_sizes") or [])]
    table = (keys if keys is not None else {}).setdefault(f"{slots} {sizes}", {})
    out: dict[str, int] = {}
    for key, count in raw.items():
        bits = table.get(key)
        if bits is None:
            bits = table[key] = _bits(key, slots, sizes)
        out[bits] = count
    return out


def _bits(key: str, slots: int, sizes: list[int]) -> str:
    """One of Aer's hexadecimal keys as Qiskit's bit string."""
    bits = format(int(key, 16), f"0{slots}b") if slots else format(int(key, 16), "b")
    if slots and len(sizes) > 1:
        parts, start = [], 0
        for size in sizes:
            parts.append(bits[start : start + size])
            start += size
        bits = " ".join(parts)
    return bits


def _measured(circuit: QuantumCircuit) -> list[int | None]:
    """For each classical bit, the qubit measured into it last (None: never measured)."""
    bits: list[int | None] = [None] * circuit.num_clbits
    for instruction in circuit.data:
        if instruction.operation.name == "measure":
            qubit = circuit.find_bit(instruction.qubits[0]).index
            bits[circuit.find_bit(instruction.clbits[0]).index] = qubit
    return bits


def _keyed(probabilities: np.ndarray, qubits: list[int], bits: list[int | None], header: dict):
    """Probabilities over ``qubits`` (index bit k is ``qubits[k]``) as outcomes of the
    classical bits, keyed like Aer's counts (registers apart, Qiskit's bit order)."""
    position = {qubit: k for k, qubit in enumerate(qubits)}
    out: dict[str, float] = {}
    for index in np.flatnonzero(probabilities > TINY):
        value = 0
        for clbit, qubit in enumerate(bits):
            if qubit is not None and (int(index) >> position[qubit]) & 1:
                value |= 1 << clbit
        key = format_counts_memory(hex(value), header)
        out[key] = out.get(key, 0.0) + float(probabilities[index])
    return out


def exact_outputs(
    runnable: QuantumCircuit,
    unmeasured: QuantumCircuit,
    backend: AerSimulator,
    outputs: set[Output],
    points: list[Point],
    used: list[str] | None = None,
) -> list[dict]:
    """Each point's exact probabilities of the measured bits and its state before the final
    measurements (``unmeasured``: the circuit without them), from one run with all the
    bindings (Aer's save instructions)."""
    bits = _measured(runnable)
    header = {
        "creg_sizes": [[register.name, register.size] for register in runnable.cregs],
        "memory_slots": runnable.num_clbits,
    }
    circuit = unmeasured.copy()
    qubits = sorted({qubit for qubit in bits if qubit is not None})
    if Output.PROBABILITIES in outputs:
        circuit.save_probabilities(qubits, label="probabilities")
    if Output.STATEVECTOR in outputs:
        circuit.save_statevector(label="statevector")
    job = backend.run(circuit, shots=1, parameter_binds=_binds(circuit, points))
    result = succeeded(job.result(), used)
    found = []
    for i in range(len(points)):
        data = result.data(i)
        out: dict = {}
        if Output.PROBABILITIES in outputs:
            out["probabilities"] = _keyed(np.asarray(data["probabilities"]), qubits, bits, header)
        if Output.STATEVECTOR in outputs:
            amplitudes = np.asarray(data["statevector"])
            out["statevector"] = [(float(a.real), float(a.imag)) for a in amplitudes]
        found.append(out)
    return found


def _precision(shots: int) -> float:
    """The precision BackendEstimatorV2 turns into exactly ``shots`` (ceil(1 / precision**2))."""
    precision = 1 / math.sqrt(shots)
    while math.ceil(1 / precision**2) > shots:
        precision = math.nextafter(precision, 1.0)
    return precision


def expectation_values(
    runnable: QuantumCircuit,
    circuit: QuantumCircuit,
    backend: Backend,
    observables: list[dict[str, float]],
    points: list[Point],
    shots: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Expectation values and standard errors, shaped (points, observables), of ``circuit``
    (``runnable`` without its final measurements)."""
    operators = np.empty((1, len(observables)), dtype=object)
    for index, terms in enumerate(observables):
        operator = SparsePauliOp.from_list(list(terms.items()))
        if backend.device and runnable.layout is not None:
            operator = operator.apply_layout(runnable.layout)
        operators[0, index] = operator
    values = _values(circuit, points)
    pub: tuple
    if values is not None:
        pub = (circuit, operators, values.reshape(len(points), 1, -1))
    else:
        pub = (circuit, operators.reshape(-1))
    if shots == 0:
        options = backend.exact.options
        backend_options = {
            "method": options.method,
            "max_parallel_threads": options.max_parallel_threads,
            "max_memory_mb": options.max_memory_mb,
        }
        if backend.noise is not None:
            backend_options["noise_model"] = backend.noise
        estimator = AerEstimator(
            options={"backend_options": backend_options, "run_options": {"seed_simulator": seed}}
        )
        data = estimator.run([pub], precision=0).result()[0].data
    else:
        options = {"default_precision": _precision(shots), "seed_simulator": seed}
        data = BackendEstimatorV2(backend=backend.simulator, options=options).run([pub])
        data = data.result()[0].data
    evs = np.asarray(data.evs, dtype=float).reshape(max(1, len(points)), len(observables))
    stds = np.asarray(data.stds, dtype=float).reshape(evs.shape)
    return evs, stds


def point_results(
    runnable: QuantumCircuit,
    backend: Backend,
    shots: int,
    seed: int,
    points: list[Point] | None,
    observables: list[dict[str, float]] | None,
    outputs: set[Output],
    memory: bool = False,
    used: list[str] | None = None,
) -> tuple[list[PointResult], list[str] | None]:
    """Every point's outcome, in order: counts (when asked, with shots), exact outputs, and the
    observables' expectation values; and each shot's outcome of the first point with
    ``memory``."""
    swept = points or [{}]
    samples: list[tuple[dict[str, int] | None, list[str] | None]] = [(None, None)] * len(swept)
    if Output.COUNTS in outputs and shots and runnable.num_clbits:
        samples = list(sweep_counts(runnable, backend.simulator, shots, seed, swept, memory, used))
    exact: list[dict] = [{}] * len(swept)
    evs = stds = None
    wants_exact = bool(outputs & {Output.PROBABILITIES, Output.STATEVECTOR})
    if wants_exact or observables:
        # The state before the final measurements (the caller checked that they all come at
        # the end), once for the exact outputs and the observables.
        unmeasured = runnable.remove_final_measurements(inplace=False)
        if wants_exact:
            exact = exact_outputs(runnable, unmeasured, backend.exact, outputs, swept, used)
        if observables:
            evs, stds = expectation_values(
                runnable, unmeasured, backend, observables, swept, shots, seed
            )
    results = [
        PointResult(
            parameters=point or None,
            counts=samples[i][0],
            expectation_values=None if evs is None else [float(v) for v in evs[i]],
            standard_errors=None if stds is None else [float(v) for v in stds[i]],
            **exact[i],
        )
        for i, point in enumerate(swept)
    ]
    return results, samples[0][1]
