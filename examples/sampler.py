"""Qiskit's SamplerV2 on qcexec: a Bell pair, then a sweep of one rotation in a single task.
Run with QCEXEC_URL pointing at the service (and QCEXEC_API_KEY if it has keys)."""

import os

import numpy as np
from qcexec_client.qiskit import Sampler
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter

sampler = Sampler(os.environ.get("QCEXEC_URL", "http://localhost:8000"), seed=7)

bell = QuantumCircuit(2)
bell.h(0)
bell.cx(0, 1)
bell.measure_all()

theta = Parameter("theta")
rotation = QuantumCircuit(1)
rotation.ry(theta, 0)
rotation.measure_all()
angles = np.linspace(0, np.pi, 5).reshape(5, 1)  # five points: one task, one sweep

bell_result, sweep_result = sampler.run([bell, (rotation, angles)], shots=1000).result()
print("bell:", bell_result.data.meas.get_counts())
for angle, index in zip(angles[:, 0], np.ndindex(sweep_result.data.meas.shape), strict=True):
    ones = sweep_result.data.meas.get_counts(index).get("1", 0)
    print(f"theta={angle:.3f}: P(1)={ones / 1000:.3f}")
