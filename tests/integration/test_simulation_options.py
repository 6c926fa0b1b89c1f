"""Outputs, methods and noise end to end through the log, each against an independent reference
run in this process: exact probabilities and states from ``qiskit.quantum_info``, noisy counts
from ``AerSimulator(noise_model=...)`` and ``AerSimulator.from_backend(FakeX())`` with the same
seed; and the combinations a method or the program cannot serve, refused at submit."""

from __future__ import annotations

import hashlib
import math
from datetime import datetime
from importlib.metadata import version

import numpy as np
from qiskit import QuantumCircuit, qasm3, transpile
from qiskit.circuit import Parameter
from qiskit.circuit.library import CXGate, HGate
from qiskit.quantum_info import DensityMatrix, SparsePauliOp, Statevector
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel, ReadoutError, depolarizing_error

from schemas.events import Noise
from tests.helpers import BELL
from tests.stack import Stack

THETA = Parameter("theta")
OBSERVABLES = ["ZZI", {"XXI": 0.5, "IZZ": -1.0}, "IIY"]


def swept() -> QuantumCircuit:
    """One parameter, three qubits, the measured bits in another order than the qubits."""
    circuit = QuantumCircuit(3, 3)
    circuit.ry(THETA, 0)
    circuit.cx(0, 1)
    circuit.rx(THETA / 3, 2)
    circuit.h(1)
    circuit.measure([0, 1, 2], [2, 0, 1])
    return circuit


def state(theta: float) -> Statevector:
    bound = swept().remove_final_measurements(inplace=False).assign_parameters([theta])
    return Statevector(bound)


def probabilities(theta: float) -> dict[str, float]:
    """Exact outcome probabilities of the classical bits: c[0] is qubit 1, c[1] qubit 2, c[2]
    qubit 0 (``probabilities_dict`` writes its qargs' outcomes with the first one last)."""
    return {str(k): float(v) for k, v in state(theta).probabilities_dict([1, 2, 0]).items()}


def tvd(p: dict[str, float], q: dict[str, float]) -> float:
    return 0.5 * sum(abs(p.get(k, 0.0) - q.get(k, 0.0)) for k in {*p, *q})


def test_a_sweep_of_20_points_matches_the_exact_references(stack: Stack) -> None:
    thetas = [float(x) for x in np.linspace(0, 2 * math.pi, 20)]
    points = [{"theta": t} for t in thetas]
    shots = 4000
    text = qasm3.dumps(swept())
    sampled = stack.submit(
        text,
        parameters=points,
        shots=shots,
        outputs=["counts", "probabilities"],
        observables=OBSERVABLES,
    )
    exact = stack.submit(text, parameters=points, shots=0, observables=OBSERVABLES)
    states = stack.submit(text, parameters=points[:5], outputs=["statevector"])
    done = stack.wait_terminal(sampled)
    assert done["status"] == "completed", done
    operators = [
        SparsePauliOp.from_list(list(({o: 1.0} if isinstance(o, str) else o).items()))
        for o in OBSERVABLES
    ]
    for theta, point in zip(thetas, done["results"], strict=True):
        reference = probabilities(theta)
        kept = {k: v for k, v in reference.items() if v > 1e-14}
        assert point["probabilities"].keys() == kept.keys()
        assert all(abs(point["probabilities"][k] - v) < 1e-9 for k, v in kept.items())
        observed = {k: c / shots for k, c in point["counts"].items()}
        assert sum(point["counts"].values()) == shots
        assert tvd(observed, reference) < 0.05, (theta, observed, reference)
        values = [state(theta).expectation_value(o).real for o in operators]
        for value, estimate, error in zip(
            values, point["expectation_values"], point["standard_errors"], strict=True
        ):
            assert error > 0 and abs(estimate - value) <= 4 * error + 1e-12
    done = stack.wait_terminal(exact)
    for theta, point in zip(thetas, done["results"], strict=True):
        values = [state(theta).expectation_value(o).real for o in operators]
        assert np.allclose(point["expectation_values"], values, atol=1e-9, rtol=0)
        assert point["standard_errors"] == [0.0] * len(OBSERVABLES)
        assert "counts" not in point
    done = stack.wait_terminal(states)
    for theta, point in zip(thetas[:5], done["results"], strict=True):
        amplitudes = np.array([complex(re, im) for re, im in point["statevector"]])
        assert np.allclose(amplitudes, state(theta).data, atol=1e-9, rtol=0)
        assert "counts" not in point and "probabilities" not in point


def test_a_noisy_bell_circuit_counts_as_aer_with_that_noise_model(stack: Stack) -> None:
    noise = {"depolarizing": {"one_qubit": 0.02, "two_qubit": 0.08}, "readout": 0.03}
    task = stack.submit(BELL, shots=3000, seed=17, noise=noise, outputs=["counts", "probabilities"])
    done = stack.wait_terminal(task)
    assert done["status"] == "completed", done
    assert done["noise"] == noise
    model = NoiseModel()
    model.add_all_qubit_quantum_error(depolarizing_error(0.02, 1), ["h"])
    model.add_all_qubit_quantum_error(depolarizing_error(0.08, 2), ["cx"])
    model.add_all_qubit_readout_error(ReadoutError([[0.97, 0.03], [0.03, 0.97]]))
    bell = QuantumCircuit(2, 2)
    bell.h(0)
    bell.cx(0, 1)
    bell.measure([0, 1], [0, 1])
    reference = AerSimulator(noise_model=model).run(bell, shots=3000, seed_simulator=17)
    assert done["result"] == reference.result().get_counts()
    # What made it: Aer's own report of the method it chose, the versions installed, the
    # seed, and the digest of the noise as the record carries it.
    made = done["provenance"]
    assert made["method"] == reference.result().results[0].metadata["method"]
    assert (made["qiskit"], made["qiskit_aer"], made["service"]) == (
        version("qiskit"), version("qiskit-aer"), version("qcexec"),
    )  # fmt: skip
    assert made["seed"] == 17 and made.get("device") is None
    record_noise = Noise.model_validate(noise).model_dump_json()
    assert made["noise_digest"] == hashlib.sha256(record_noise.encode()).hexdigest()
    # Exact probabilities of the noisy state (before readout), by evolving a density matrix
    # through each gate and its error channel.
    rho = DensityMatrix.from_label("00").evolve(HGate(), [0])
    rho = rho.evolve(depolarizing_error(0.02, 1).to_quantumchannel(), [0])
    rho = rho.evolve(CXGate(), [0, 1])
    rho = rho.evolve(depolarizing_error(0.08, 2).to_quantumchannel(), [0, 1])
    expected = {k: v for k, v in rho.probabilities_dict().items() if v > 1e-14}
    assert done["probabilities"].keys() == expected.keys()
    assert all(abs(done["probabilities"][k] - v) < 1e-12 for k, v in expected.items())
    assert 0.0 < done["probabilities"]["01"] < 0.05


def ghz(qubits: int) -> str:
    lines = ["OPENQASM 3.0;", 'include "stdgates.inc";', f"qubit[{qubits}] q;"]
    lines += [f"bit[{qubits}] c;", "h q[0];"]
    lines += [f"cx q[{i}], q[{i + 1}];" for i in range(qubits - 1)]
    return "\n".join([*lines, "c = measure q;"])


def test_a_60_qubit_ghz_state_runs_as_a_matrix_product_state(stack: Stack) -> None:
    refused = stack.client.post("/tasks", json={"qc": ghz(60), "shots": 100})
    assert refused.status_code == 422 and "limit with method automatic is 28" in refused.text
    tasks = {
        method: stack.submit(ghz(60), shots=500, seed=5, method=method)
        for method in ("matrix_product_state", "stabilizer")
    }
    for method, task in tasks.items():
        done = stack.wait_terminal(task)
        assert done["status"] == "completed", done
        assert done["method"] == method
        assert done["provenance"]["method"] == method
        assert "noise_digest" not in done["provenance"]  # no noise
        assert set(done["result"]) == {"0" * 60, "1" * 60}
        assert sum(done["result"].values()) == 500
        assert min(done["result"].values()) > 150  # each about half of the shots


def test_a_device_snapshot_counts_as_aer_from_that_backend(stack: Stack) -> None:
    from qiskit_ibm_runtime.fake_provider import FakeManilaV2

    devices = stack.client.get("/devices").json()["devices"]
    assert {"name": "fake_sherbrooke", "qubits": 127} in devices
    task = stack.submit(BELL, shots=2000, seed=23, noise={"device": "fake_manila"})
    done = stack.wait_terminal(task, timeout=180)
    assert done["status"] == "completed", done
    simulator = AerSimulator.from_backend(FakeManilaV2())
    bell = QuantumCircuit(2, 2)
    bell.h(0)
    bell.cx(0, 1)
    bell.measure([0, 1], [0, 1])
    # The service transpiles for the device at optimization level 1 with the task's seed.
    isa = transpile(bell, simulator, optimization_level=1, seed_transpiler=23)
    reference = simulator.run(isa, shots=2000, seed_simulator=23).result().get_counts()
    assert done["result"] == reference
    assert {"01", "10"} & done["result"].keys()  # the device's noise is there
    made = done["provenance"]
    assert made["device"] == "fake_manila" and made["seed"] == 23
    calibrated = FakeManilaV2().properties().last_update_date
    assert datetime.fromisoformat(made["calibrated_at"]) == calibrated


def test_combinations_that_cannot_run_are_refused_at_submit(stack: Stack) -> None:
    clifford_t = BELL.replace("h q[0];", "h q[0];\nt q[1];")
    wide = ghz(14)
    for body, field, words in [
        ({"qc": BELL, "observables": ["ZZZ"]}, "observables", "over 3 qubits"),
        ({"qc": wide, "outputs": ["statevector"]}, "outputs", "at most 12 qubits"),
        ({"qc": BELL, "noise": {"device": "fake_nowhere"}}, "noise", "GET /devices"),
        (
            {"qc": BELL, "noise": {"device": "fake_manila"}, "outputs": ["statevector"]},
            "outputs",
            "no statevector",
        ),
        ({"qc": ghz(6), "noise": {"device": "fake_manila"}}, "noise", "fake_manila has 5"),
        ({"qc": clifford_t, "method": "stabilizer"}, None, "Clifford gates only: the program's t"),
        ({"qc": ghz(30), "method": "density_matrix"}, None, "with method density_matrix is 14"),
        ({"qc": BELL, "noise": {"readout": 2}}, "noise", "less than or equal to 1"),
        ({"qc": BELL, "noise": {"device": "fake_manila", "readout": 0.1}}, "noise", "not both"),
        ({"qc": BELL, "noise": {"thermal": 0.1}}, "noise", "Extra inputs"),
        ({"qc": BELL, "method": "tensor_network"}, "method", "Input should be"),
    ]:
        response = stack.client.post("/tasks", json=body)
        assert response.status_code in (400, 422), (body, response.text)
        assert words in response.text, (body, response.text)
        if field is not None and response.status_code == 422:
            assert response.json()["detail"][0]["loc"][:2] == ["body", field], response.text
