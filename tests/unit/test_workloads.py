"""Parameter sweeps and observables in the simulator worker, against exact references from
``qiskit.quantum_info``; and the request's workload fields checked against the program."""

from __future__ import annotations

import math

import numpy as np
import pytest
from qiskit import QuantumCircuit, qasm3
from qiskit.circuit import Parameter
from qiskit.quantum_info import SparsePauliOp, Statevector

from api.errors import Refused
from api.models import TaskRequest
from api.workloads import checked_workload
from processor.simulate import run_program
from programs.front import GENEROUS, Checked
from runtime.settings import Settings
from schemas.events import Dialect

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
    (_, _, dialect, results), _ = run_program(
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


PROGRAM = Checked(Dialect.OPENQASM3, qubits=2, operations=4, clbits=2, inputs=("theta",))
WIDE = Checked(Dialect.OPENQASM3, qubits=20, operations=40, clbits=20, inputs=("theta",))
TWELVE = Checked(Dialect.OPENQASM3, qubits=12, operations=40, clbits=12, inputs=("theta",))
MID = Checked(Dialect.OPENQASM3, 2, 4, 2, ("theta",), measures_at_end=False)
UNMEASURED = Checked(Dialect.OPENQASM3, qubits=2, operations=4, clbits=0, inputs=("theta",))
NOISY = {"depolarizing": {"one_qubit": 0.01}}
THETA_1 = {"parameters": {"theta": 1.0}}


def check(shots=100, points=10, record=2**20, program=PROGRAM, **fields):
    body = TaskRequest(qc="(read apart)", **fields)
    settings = Settings(qc_task_max_points=points, qc_max_record_bytes=record)
    return checked_workload(body, program, shots, settings)


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({}, "parameters", "give their values"),
        ({"parameters": {"phi": 1.0}}, "parameters", "no input named phi"),
        ({"parameters": [{"theta": 1.0}, {}]}, "parameters", "point 1: no value for theta"),
        ({"parameters": []}, "parameters", "at least one point"),
        ({"parameters": [{"theta": 0.0}] * 11}, "parameters", "at most 10 points"),
        ({"parameters": {"theta": 0}, "observables": ["ZZZ"]}, "observables", "3 qubits"),
        ({"parameters": {"theta": 0}, "observables": ["ZA"]}, "observables", "not a Pauli"),
        ({"parameters": {"theta": 0}, "observables": [{"ZZ": 1, "X": 2}]}, "observables", "differ"),
        ({"parameters": {"theta": 0}, "shots": 0}, "shots", "give observables"),
        ({"parameters": [{"theta": 0}], "memory": True}, "memory", "one point"),
        (
            {"parameters": [{"theta": 0}] * 1000, "points": 1000, "record": 65536},
            "parameters",
            "QC_MAX_RECORD",
        ),
        # Outputs, methods and noise the program or the method cannot serve.
        (THETA_1 | {"outputs": ["statevector"], "program": WIDE}, "outputs", "at most 12 qubits"),
        (THETA_1 | {"outputs": ["counts"], "shots": 0}, "shots", "exact values only"),
        (THETA_1 | {"outputs": ["probabilities"], "program": MID}, "outputs", "at the end"),
        (THETA_1 | {"observables": ["ZZ"], "shots": 0, "program": MID}, "outputs", "at the end"),
        (THETA_1 | {"outputs": ["probabilities"], "program": UNMEASURED}, "outputs", "nothing"),
        (THETA_1 | {"outputs": ["statevector"], "noise": NOISY}, "outputs", "no statevector"),
        (
            THETA_1 | {"outputs": ["probabilities"], "noise": NOISY, "method": "statevector"},
            "method",
            "density_matrix",
        ),
        (
            THETA_1 | {"outputs": ["statevector"], "method": "density_matrix"},
            "outputs",
            "does not compute statevector",
        ),
        (
            THETA_1 | {"outputs": ["probabilities"], "method": "extended_stabilizer"},
            "outputs",
            "does not compute probabilities",
        ),
        (
            THETA_1 | {"observables": ["ZZ"], "shots": 0, "method": "extended_stabilizer"},
            "method",
            "no exact expectation values",
        ),
        (
            THETA_1 | {"outputs": ["probabilities"], "noise": NOISY, "program": WIDE},
            "method",
            "density matrix of 20 qubits",
        ),
        (THETA_1 | {"noise": {"device": "fake_nowhere"}}, "noise", "GET /devices"),
        (THETA_1 | {"noise": {"device": "fake_manila"}, "program": WIDE}, "noise", "has 5"),
        (
            {
                "parameters": [{"theta": 0}] * 8,
                "outputs": ["statevector"],
                "program": TWELVE,
                "points": 10,
            },
            "parameters",
            "QC_MAX_RECORD",
        ),
    ],
)
def test_a_workload_that_does_not_fit_the_program_is_refused(kwargs, field, words) -> None:
    with pytest.raises(Refused) as caught:
        check(**kwargs)
    assert caught.value.field == field
    assert words in caught.value.message


def test_one_point_is_not_refused_for_its_worst_case() -> None:
    wide = Checked(Dialect.OPENQASM3, qubits=20, operations=40, clbits=20, inputs=())
    workload = check(shots=100_000, program=wide)
    assert workload.points is None and workload.observables is None


def test_a_workload_that_fits() -> None:
    one = check(parameters={"theta": 0.5}, observables=["ZZ", {"XX": 1.0, "YY": -0.5}])
    assert one.points == [{"theta": 0.5}] and not one.sweep
    assert one.observables == [{"ZZ": 1.0}, {"XX": 1.0, "YY": -0.5}]
    sweep = check(parameters=[{"theta": 0.1}, {"theta": 0.2}], shots=0, observables=["ZZ"])
    assert sweep.sweep and len(sweep.points) == 2


def test_outputs_methods_and_noise_that_fit() -> None:
    exact = check(parameters={"theta": 0.5}, outputs=["probabilities", "statevector", "counts"])
    assert exact.outputs == ["probabilities", "statevector", "counts"]
    noisy = check(parameters={"theta": 0.5}, noise=NOISY, outputs=["probabilities"])
    assert noisy.noise is not None and noisy.noise.depolarizing.one_qubit == 0.01
    device = check(parameters={"theta": 0.5}, noise={"device": "fake_manila"})
    assert device.noise.device == "fake_manila"
    mps = check(parameters={"theta": 0.5}, method="matrix_product_state", observables=["ZZ"])
    assert mps.method == "matrix_product_state"
    assert check(parameters={"theta": 0.5}, outputs=["counts"]).outputs is None


@pytest.mark.parametrize("seed", range(40))
def test_counts_are_keyed_exactly_as_qiskit_keys_them(seed: int) -> None:
    """``counts_of`` (the processor's fast formatting) against ``Result.get_counts``: several
    registers of several sizes, bits measured or not."""
    import random

    from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
    from qiskit_aer import AerSimulator

    from processor.workloads import counts_of

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
