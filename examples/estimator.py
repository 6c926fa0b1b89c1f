"""Qiskit's EstimatorV2 on qcexec: the energy of H2 on a two-qubit ansatz over a grid of
parameter values, exact (precision 0) and sampled (precision 0.01, 10 000 shots).
Run with QCEXEC_URL pointing at the service (and QCEXEC_API_KEY if it has keys)."""

import os

import numpy as np
from qcexec_client.qiskit import Estimator
from qiskit.circuit.library import real_amplitudes
from qiskit.quantum_info import SparsePauliOp

H2 = SparsePauliOp.from_list(
    [
        ("II", -1.052373245772859),
        ("IZ", 0.39793742484318045),
        ("ZI", -0.39793742484318045),
        ("ZZ", -0.01128010425623538),
        ("XX", 0.18093119978423156),
    ]
)
ansatz = real_amplitudes(2, reps=1)
values = np.random.default_rng(1).uniform(-np.pi, np.pi, (4, ansatz.num_parameters))

estimator = Estimator(os.environ.get("QCEXEC_URL", "http://localhost:8000"), seed=7)
exact, sampled = estimator.run([(ansatz, H2, values), (ansatz, H2, values, 0.01)]).result()
for point, ev, estimate, std in zip(
    values, exact.data.evs, sampled.data.evs, sampled.data.stds, strict=True
):
    print(f"{np.round(point, 2)}: exact {ev:+.6f}, sampled {estimate:+.4f} ± {std:.4f}")
