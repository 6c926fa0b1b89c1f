"""The dry run's figures against Aer's own: the memory of each method's state (Aer's
``required_memory_mb``) and the method Aer's automatic choice lands on (its result's
``method``), for circuits with and without noise, few and many shots."""

from __future__ import annotations

import math

import pytest
from qiskit import QuantumCircuit
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel, depolarizing_error

from programs.estimate import DEFAULT, Calibration, automatic_choice, state_bytes
from schemas.events import Method


def _chain(qubits: int, clifford: bool) -> QuantumCircuit:
    circuit = QuantumCircuit(qubits, qubits)
    circuit.h(0)
    for i in range(qubits - 1):
        circuit.cx(i, i + 1)
    if not clifford:
        circuit.t(0)
    circuit.measure(range(qubits), range(qubits))
    return circuit


def _noise() -> NoiseModel:
    model = NoiseModel()
    model.add_all_qubit_quantum_error(depolarizing_error(0.01, 1), ["h", "t"])
    model.add_all_qubit_quantum_error(depolarizing_error(0.01, 2), ["cx"])
    return model


@pytest.mark.parametrize(
    ("method", "qubits"),
    [(Method.STATEVECTOR, n) for n in (16, 20, 22)] + [(Method.DENSITY_MATRIX, n) for n in (8, 10)],
)
def test_the_state_memory_is_what_aer_counts(method: Method, qubits: int) -> None:
    result = AerSimulator(method=method.value).run(_chain(qubits, False), shots=1).result()
    aer_mb = result.results[0].metadata["required_memory_mb"]
    estimate = state_bytes(method, qubits)
    assert estimate is not None
    assert abs(math.ceil(estimate / 2**20) - aer_mb) <= aer_mb / 10


@pytest.mark.parametrize(
    ("qubits", "shots", "noisy", "clifford"),
    [
        (3, 100, False, True),
        (3, 100, False, False),
        (3, 4, True, False),
        (3, 100, True, False),
        (10, 100, True, False),
        (10, 2000, True, False),
        (3, 4, True, True),
        (12, 100, True, True),
    ],
)
def test_the_automatic_method_is_the_one_aer_chooses(qubits, shots, noisy, clifford) -> None:
    simulator = AerSimulator(noise_model=_noise()) if noisy else AerSimulator()
    result = simulator.run(_chain(qubits, clifford), shots=shots, seed_simulator=1).result()
    chosen = automatic_choice(qubits, shots, noisy, clifford, max_memory_mb=4096)
    assert chosen.value == result.results[0].metadata["method"]


def test_the_run_time_model_grows_with_the_work() -> None:
    small, large = (
        DEFAULT.seconds(Method.STATEVECTOR, 16),
        DEFAULT.seconds(Method.STATEVECTOR, 2**30),
    )
    assert 0 < small < large
    again = Calibration.model_validate_json(DEFAULT.model_dump_json())
    assert again.seconds(Method.DENSITY_MATRIX, 2**20) == DEFAULT.seconds(
        Method.DENSITY_MATRIX, 2**20
    )
