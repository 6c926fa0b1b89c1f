"""Programs as other tools write them run end to end, and GET says how each was read."""

from __future__ import annotations

from braket.circuits import Circuit
from qiskit import QuantumCircuit, qasm2, qasm3

from tests.stack import Stack


def _ghz() -> QuantumCircuit:
    circuit = QuantumCircuit(3, 3)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.cx(1, 2)
    circuit.measure(range(3), range(3))
    return circuit


def _braket_ghz() -> str:
    from braket.circuits.serialization import IRType

    circuit = Circuit().h(0).cnot(0, 1).cnot(1, 2)
    return circuit.to_ir(IRType.OPENQASM).source


def test_each_dialect_runs_and_says_how_it_was_read(stack: Stack) -> None:
    programs = {
        "openqasm2": qasm2.dumps(_ghz()),
        "openqasm3": qasm3.dumps(_ghz()),
        "braket": _braket_ghz(),
    }
    tasks = {name: stack.submit(text, shots=200, seed=5) for name, text in programs.items()}
    for name, task_id in tasks.items():
        done = stack.wait_terminal(task_id)
        assert done["status"] == "completed", done
        assert done["dialect"] == name
        assert set(done["result"]) == {"000", "111"}
        assert sum(done["result"].values()) == 200


def test_a_refusal_names_the_dialect_and_the_place(stack: Stack) -> None:
    program = "OPENQASM 3.0;\nqubit[2] q;\nh q[0];\ncnot q[0] q[1];\n"
    response = stack.client.post("/tasks", json={"qc": program})
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == "QASM3 code is not valid"
    (error,) = body["errors"]
    assert (error["line"], error["column"]) == (4, 11)
    assert "Braket" in error["message"]


def test_braket_pragmas_are_refused_by_name(stack: Stack) -> None:
    program = "OPENQASM 3.0;\nqubit[1] q;\nh q[0];\n#pragma braket result probability\n"
    response = stack.client.post("/tasks", json={"qc": program})
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["line"] == 4
    assert "#pragma braket result probability" in error["message"]
