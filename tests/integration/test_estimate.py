"""The dry run (``POST /tasks/estimate``) on the real stack: what it says of a task, that it is
refused exactly as a submission of the same body is, and that nothing reaches the log."""

from __future__ import annotations

import json

from qiskit import qasm3
from qiskit.circuit.random import random_circuit

from tests.helpers import BELL, read_topic
from tests.stack import Stack

RANDOM20 = qasm3.dumps(random_circuit(20, 6, measure=True, seed=3))


def _submitted(stack: Stack) -> int:
    return len(read_topic(stack.services.kafka_bootstrap, stack.topics.submitted))


def test_a_dry_run_prices_every_method_and_logs_nothing(stack: Stack) -> None:
    before = _submitted(stack)
    answer = stack.client.post("/tasks/estimate", json={"qc": RANDOM20, "shots": 100})
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found["accepted"] is True and found["dialect"] == "openqasm3"
    assert (found["qubits"], found["points"], found["shots"]) == (20, 1, 100)
    assert found["operations"] > 0
    assert found["method"]["method"] == "automatic"
    assert found["method"]["simulates_as"] == "statevector"
    assert found["method"]["memory_bytes"] == 16 * 2**20 and found["method"]["seconds"] > 0
    methods = {m["method"]: m for m in found["methods"]}
    assert set(methods) == {
        "automatic", "statevector", "density_matrix", "matrix_product_state", "stabilizer",
        "extended_stabilizer",
    }  # fmt: skip
    assert methods["statevector"]["runs"] and methods["matrix_product_state"]["runs"]
    assert methods["matrix_product_state"]["memory_bytes"] is None
    # A random circuit is not Clifford, and a density matrix of 20 qubits is past its limit.
    assert not methods["stabilizer"]["runs"] and methods["stabilizer"]["reason"]
    assert not methods["density_matrix"]["runs"] and "qubits" in methods["density_matrix"]["reason"]
    assert _submitted(stack) == before


def test_a_circuit_on_a_device_snapshot(stack: Stack) -> None:
    answer = stack.client.post(
        "/tasks/estimate", json={"qc": BELL, "shots": 1000, "noise": {"device": "fake_manila"}}
    )
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found["qubits"] == 2  # the program's; the device's five are simulated
    assert found["method"]["simulates_as"] == "density_matrix"  # 1000 shots > 2^5 states
    assert found["method"]["memory_bytes"] == 16 * 4**5


def test_refused_exactly_as_a_submission_is(stack: Stack) -> None:
    before = _submitted(stack)
    for body in (
        {"qc": 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit q;\nfoo q;\n'},
        {"qc": BELL, "shots": 10**9},
        {"qc": BELL, "observables": ["ZA"]},
        {"qc": BELL, "parameters": {"theta": float("nan")}},
    ):
        text, headers = json.dumps(body), {"content-type": "application/json"}  # NaN as written
        dry = stack.client.post("/tasks/estimate", content=text, headers=headers)
        assert dry.status_code in (400, 422), dry.text
        real = stack.client.post("/tasks", content=text, headers=headers)
        assert (dry.status_code, dry.json()) == (real.status_code, real.json())
    assert _submitted(stack) == before
