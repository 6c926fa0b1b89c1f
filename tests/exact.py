"""Exact references for the tests: the distribution a circuit's measurements follow, computed
by ``qiskit.quantum_info`` rather than sampled."""

from __future__ import annotations

from qiskit import QuantumCircuit
from qiskit.quantum_info import Statevector


def measured_probabilities(circuit: QuantumCircuit) -> dict[str, float]:
    """The exact distribution of a circuit's classical bits (Qiskit's keys, without register
    spaces), every bit measured once, at the end."""
    target = {
        circuit.find_bit(i.clbits[0]).index: circuit.find_bit(i.qubits[0]).index
        for i in circuit.data
        if i.operation.name == "measure"
    }
    assert sorted(target) == list(range(circuit.num_clbits))
    state = Statevector(circuit.remove_final_measurements(inplace=False))
    return state.probabilities_dict([target[clbit] for clbit in range(circuit.num_clbits)])


def same_distribution(actual: dict[str, float], expected: dict[str, float]) -> bool:
    keys = {k for k, p in {**actual, **expected}.items() if p > 1e-9}
    return all(abs(actual.get(k, 0.0) - expected.get(k, 0.0)) < 1e-9 for k in keys)
