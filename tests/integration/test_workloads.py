"""Sweeps and observables end to end through the log: what GET answers for one point and for a
sweep, against exact references from ``qiskit.quantum_info``; refusals at submit."""

from __future__ import annotations

import math

import numpy as np
from qiskit import QuantumCircuit, qasm3
from qiskit.circuit import Parameter
from qiskit.quantum_info import SparsePauliOp, Statevector

from tests.helpers import BELL
from tests.stack import Stack

THETA = Parameter("theta")


def program() -> QuantumCircuit:
    circuit = QuantumCircuit(2)
    circuit.ry(THETA, 0)
    circuit.cx(0, 1)
    circuit.measure_all()
    return circuit


def exact(theta: float, label: str) -> float:
    bound = program().remove_final_measurements(inplace=False).assign_parameters([theta])
    return Statevector(bound).expectation_value(SparsePauliOp(label)).real


def test_a_sweep_answers_every_point_in_order(stack: Stack) -> None:
    thetas = [float(x) for x in np.linspace(0, math.pi, 20)]
    body = {
        "qc": qasm3.dumps(program()),
        "parameters": [{"theta": t} for t in thetas],
        "observables": ["ZZ", "XX"],
        "shots": 0,
    }
    done = stack.wait_terminal(stack.submit(**body))
    assert done["status"] == "completed" and "result" not in done
    assert [point["parameters"] for point in done["results"]] == body["parameters"]
    for theta, point in zip(thetas, done["results"], strict=True):
        assert point["standard_errors"] == [0.0, 0.0]
        expected = [exact(theta, "ZZ"), exact(theta, "XX")]
        assert np.allclose(point["expectation_values"], expected, atol=1e-9)


def test_one_point_keeps_the_original_answer_with_the_values_beside(stack: Stack) -> None:
    body = {"qc": qasm3.dumps(program()), "parameters": {"theta": math.pi}, "shots": 100}
    done = stack.wait_terminal(stack.submit(**body, observables=[{"ZZ": 2.0}]))
    assert done["status"] == "completed"
    assert done["result"] == {"11": 100}
    assert done["parameters"] == {"theta": math.pi}
    assert done["expectation_values"] == [2.0] and done["standard_errors"] == [0.0]
    plain = stack.wait_terminal(stack.submit(BELL, shots=10))
    assert "expectation_values" not in plain and "results" not in plain


def test_workloads_that_do_not_fit_the_program_are_refused_at_submit(stack: Stack) -> None:
    text = qasm3.dumps(program())
    for body, field in [
        ({"qc": text}, "parameters"),
        ({"qc": text, "parameters": {"phi": 1.0}}, "parameters"),
        ({"qc": text, "parameters": {"theta": 1.0}, "observables": ["ZZZ"]}, "observables"),
        ({"qc": BELL, "shots": 0}, "shots"),
    ]:
        response = stack.client.post("/tasks", json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["detail"][0]["loc"] == ["body", field]
