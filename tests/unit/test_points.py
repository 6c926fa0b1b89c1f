"""Parameter sweeps and observables in the simulator worker, against exact references from
``qiskit.quantum_info``; and counts keyed exactly as Qiskit keys them."""

from __future__ import annotations

import math

import numpy as np
import pytest
from qiskit import QuantumCircuit, qasm3
from qiskit.circuit import Parameter
from qiskit.quantum_info import SparsePauliOp, Statevector

from processor.simulate import run_program
from schemas.events import Dialect
from tests.reading import GENEROUS

THETA = Parameter("theta")
POINTS = [{"theta": float(x)} for x in np.linspace(0, 2 * math.pi, 20)]
OBSERVABLES = [{"ZZ": 1.0}, {"XX": 0.5, "ZI": -1.0}, {"YY": 1.0}, {"IZ": 1.0}]


def ansatz() -> QuantumCircuit:
    circuit = QuantumCircuit(2)
    circuit.ry(THETA, 0)
    circuit.rx(THETA / 2, 1)
    circuit.cx(0, 1)
    circuit.measure_all()
    return circuit


def exact(point: dict[str, float]) -> tuple[Statevector, list[float]]:
    bound = ansatz().remove_final_measurements(inplace=False).assign_parameters([point["theta"]])
    state = Statevector(bound)
    values = [
        state.expectation_value(SparsePauliOp.from_list(list(o.items()))).real for o in OBSERVABLES
    ]
    return state, values


def run(shots: int, seed: int = 11):
    (_, _, dialect, results, *_), _ = run_program(
        qasm3.dumps(ansatz()), shots, seed, GENEROUS, 1024,
        parameters=POINTS, observables=OBSERVABLES,
    )  # fmt: skip
    assert dialect is Dialect.OPENQASM3
    return results


def test_exact_expectation_values_at_every_point() -> None:
    results = run(shots=0)
    assert [r.parameters for r in results] == POINTS
    for point, result in zip(POINTS, results, strict=True):
        assert result.counts is None
        assert result.standard_errors == [0.0] * len(OBSERVABLES)
        assert np.allclose(result.expectation_values, exact(point)[1], atol=1e-9)


def test_sampled_estimates_and_counts_follow_the_exact_ones() -> None:
    shots = 4000
    results = run(shots=shots)
    for point, result in zip(POINTS, results, strict=True):
        state, values = exact(point)
        for value, estimate, error in zip(
            values, result.expectation_values, result.standard_errors, strict=True
        ):
            assert abs(estimate - value) <= 4 * error + 1e-9
        probabilities = state.probabilities_dict()
        observed = {key: count / shots for key, count in result.counts.items()}
        tvd = 0.5 * sum(
            abs(observed.get(k, 0) - probabilities.get(k, 0)) for k in {*observed, *probabilities}
        )
        assert tvd < 0.05, (point, tvd)


def test_the_same_seed_gives_the_same_answer_at_every_point() -> None:
    assert run(shots=500, seed=3) == run(shots=500, seed=3)


@pytest.mark.parametrize("seed", range(40))
def test_counts_are_keyed_exactly_as_qiskit_keys_them(seed: int) -> None:
    """``counts_of`` (the processor's fast formatting) against ``Result.get_counts``: several
    registers of several sizes, bits measured or not."""
    import random

    from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
    from qiskit_aer import AerSimulator

    from processor.aer import counts_of

    rnd = random.Random(seed)
    qubits = rnd.randint(1, 6)
    registers = [ClassicalRegister(rnd.randint(1, 3), f"r{i}") for i in range(rnd.randint(1, 3))]
    circuit = QuantumCircuit(QuantumRegister(qubits), *registers)
    circuit.h(range(qubits))
    bits = [bit for register in registers for bit in register]
    circuit.measure(rnd.randrange(qubits), bits[0])
    for bit in bits[1:]:
        if rnd.random() < 0.8:
            circuit.measure(rnd.randrange(qubits), bit)
    result = AerSimulator().run(circuit, shots=200, seed_simulator=seed).result()
    assert counts_of(result, 0) == dict(result.get_counts(0))
