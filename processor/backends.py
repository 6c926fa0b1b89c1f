"""The simulator a task runs on: Aer with the task's method and noise, or a device snapshot's
simulator (its noise, gates and coupling map). Each is built once per worker and reused: a noise
model, and above all a device's (seconds to build), is not rebuilt for every task.

Noise given by its parts means: every gate of one or two qubits is followed by a depolarizing
error of its width (the circuit is first translated to Aer's gates of one and two qubits, so
that larger gates carry errors too), and every measured bit is read flipped with probability
``readout``. A device's noise is ``AerSimulator.from_backend(FakeX())``: its calibrated gate
errors, relaxation and readout errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from qiskit import QuantumCircuit, transpile
from qiskit.circuit.library import get_standard_gate_name_mapping
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel, ReadoutError, depolarizing_error

from programs.devices import device_backend
from programs.errors import ProgramError
from programs.methods import exact_method
from schemas.events import Method, Noise

#: The optimization level of the transpile for a device snapshot (with the task's seed as
#: ``seed_transpiler``, so a task always gets the same layout and routing).
DEVICE_OPTIMIZATION_LEVEL = 1


@cache
def gates_by_width() -> dict[int, list[str]]:
    """Aer's native gates of one and of two qubits, by width."""
    native = AerSimulator().target.operation_names
    widths: dict[int, list[str]] = {1: [], 2: []}
    for name, gate in get_standard_gate_name_mapping().items():
        if name in native and gate.num_qubits in widths and gate.num_clbits == 0:
            if name not in ("measure", "reset", "delay", "barrier"):
                widths[gate.num_qubits].append(name)
    return {width: sorted(names) for width, names in widths.items()}


def noise_model(noise: Noise) -> NoiseModel:
    """The noise model of a request's parts (not a device's)."""
    widths = gates_by_width()
    model = NoiseModel(basis_gates=widths[1] + widths[2])
    if noise.depolarizing is not None:
        for width, p in ((1, noise.depolarizing.one_qubit), (2, noise.depolarizing.two_qubit)):
            if p:
                model.add_all_qubit_quantum_error(depolarizing_error(p, width), widths[width])
    if noise.readout:
        r = noise.readout
        model.add_all_qubit_readout_error(ReadoutError([[1 - r, r], [r, 1 - r]]))
    return model


@dataclass(frozen=True)
class Backend:
    """What a task runs on: the simulator for its counts, and how its exact outputs and exact
    expectation values are computed (Aer options: method, noise)."""

    simulator: AerSimulator
    exact: AerSimulator
    noise: NoiseModel | None
    device: bool
    #: A device snapshot's calibration date (ISO 8601), when it says.
    calibrated_at: str | None = None


def _aer(method: Method, max_memory_mb: int, threads: int, **options) -> AerSimulator:
    return AerSimulator(
        method=method.value, max_memory_mb=max_memory_mb, max_parallel_threads=threads, **options
    )


def _calibrated_at(device: Any) -> str | None:
    """When the snapshot's calibration was taken (its properties' last update)."""
    try:
        moment = device.properties().last_update_date
    except Exception:  # a snapshot without properties: nothing to say
        return None
    return moment.isoformat() if moment is not None else None


@cache
def backend(method: Method, noise_json: str | None, max_memory_mb: int, threads: int) -> Backend:
    """The task's backend (cached by the noise's JSON, so each model is built once)."""
    noise = Noise.model_validate_json(noise_json) if noise_json else None
    exact = exact_method(method, noise is not None)
    if noise is not None and noise.device is not None:
        try:
            device = device_backend(noise.device)
        except KeyError:
            raise ProgramError(f"no device snapshot named '{noise.device}'") from None
        simulator = AerSimulator.from_backend(
            device, method=method.value, max_memory_mb=max_memory_mb, max_parallel_threads=threads
        )
        model = simulator.options.noise_model  # the device's, built once by from_backend
        exact_simulator = _aer(exact, max_memory_mb, threads, noise_model=model)
        return Backend(simulator, exact_simulator, model, True, _calibrated_at(device))
    if noise is None:
        simulator = _aer(method, max_memory_mb, threads)
        return Backend(simulator, simulator, None, False)
    model = noise_model(noise)
    simulator = _aer(method, max_memory_mb, threads, noise_model=model)
    exact_simulator = _aer(exact, max_memory_mb, threads, noise_model=model)
    return Backend(simulator, exact_simulator, model, False)


def for_device(circuit: QuantumCircuit, simulator: AerSimulator, seed: int) -> QuantumCircuit:
    """The circuit transpiled for a device snapshot: its gates, layout and routing."""
    return transpile(
        circuit,
        simulator,
        optimization_level=DEVICE_OPTIMIZATION_LEVEL,
        seed_transpiler=seed % 2**32,
    )
