"""Sampler and Estimator against a running service, checked against Qiskit's own reference
primitives (StatevectorSampler, StatevectorEstimator), in an environment with only Qiskit."""

from __future__ import annotations

import numpy as np
import pytest

qiskit = pytest.importorskip("qiskit")

from qiskit import QuantumCircuit  # noqa: E402
from qiskit.circuit import ParameterVector  # noqa: E402
from qiskit.primitives import StatevectorEstimator  # noqa: E402
from qiskit.providers import JobStatus  # noqa: E402
from qiskit.quantum_info import SparsePauliOp  # noqa: E402

from qcexec_client.qiskit import Estimator, Sampler  # noqa: E402


def ansatz() -> QuantumCircuit:
    theta = ParameterVector("θ", 2)
    circuit = QuantumCircuit(2)
    circuit.ry(theta[0], 0)
    circuit.cx(0, 1)
    circuit.ry(theta[1], 1)
    return circuit


def test_sampler_bell_and_a_sweep(url: str) -> None:
    bell = QuantumCircuit(2)
    bell.h(0)
    bell.cx(0, 1)
    bell.measure_all()
    measured = ansatz()
    measured.measure_all()
    job = Sampler(url, default_shots=500, seed=11).run([bell, (measured, [[0, 0], [np.pi, 0]])])
    first, second = job.result()
    assert job.status() == JobStatus.DONE
    assert set(first.data.meas.get_counts()) == {"00", "11"}
    assert second.data.meas.shape == (2,)
    assert second.data.meas.get_counts(0) == {"00": 500}
    assert second.data.meas.get_counts(1) == {"11": 500}


def test_estimator_exact_matches_statevector(url: str) -> None:
    observables = [SparsePauliOp("ZZ"), SparsePauliOp.from_list([("XX", 0.5), ("ZI", -1.0)])]
    values = np.linspace(0, np.pi, 6).reshape(3, 1, 2)
    pub = (ansatz(), observables, values)
    (ours,) = Estimator(url).run([pub]).result()
    (reference,) = StatevectorEstimator().run([pub]).result()
    assert ours.data.evs.shape == (3, 2)
    np.testing.assert_allclose(ours.data.evs, reference.data.evs, atol=1e-9)
