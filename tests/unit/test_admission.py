"""A request's workload fields checked against the program and the service's bounds before it
is accepted (:mod:`api.admission`, on the task rules of :mod:`programs.plan`); and the
processor holding a record to the same rules, in the same words."""

from __future__ import annotations

import pytest
from qiskit import QuantumCircuit, qasm3
from qiskit.circuit import Parameter

from api.admission import checked_workload
from api.errors import Refused
from api.models import TaskRequest
from processor.simulate import run_program
from programs.errors import ProgramError
from programs.front import Checked, check_program
from runtime.settings import Settings
from schemas.events import Dialect, Noise
from tests.reading import GENEROUS

PROGRAM = Checked(Dialect.OPENQASM3, qubits=2, operations=4, clbits=2, inputs=("theta",))
WIDE = Checked(Dialect.OPENQASM3, qubits=20, operations=40, clbits=20, inputs=("theta",))
TWELVE = Checked(Dialect.OPENQASM3, qubits=12, operations=40, clbits=12, inputs=("theta",))
MID = Checked(Dialect.OPENQASM3, 2, 4, 2, ("theta",), measures_at_end=False)
UNMEASURED = Checked(Dialect.OPENQASM3, qubits=2, operations=4, clbits=0, inputs=("theta",))
NOISY = {"depolarizing": {"one_qubit": 0.01}}
THETA_1 = {"parameters": {"theta": 1.0}}


def check(shots=100, points=10, record=2**20, program=PROGRAM, compression="none", **fields):
    """Without compression unless asked: the bound on a result is then QC_MAX_RECORD_BYTES."""
    body = TaskRequest(qc="(read apart)", **fields)
    settings = Settings(
        qc_task_max_points=points, qc_max_record_bytes=record, qc_compression=compression
    )
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


def test_compressed_the_bound_is_the_result_before_compression() -> None:
    """With zstd, a result up to QC_MAX_RESULT_BYTES is admitted (how small it gets is known
    once it ran); past it, the same refusal, naming that bound."""
    sweep = {"parameters": [{"theta": 0}] * 1000, "points": 1000, "record": 65536}
    admitted = check(**sweep, compression="zstd")  # refused without compression (above)
    assert admitted.sweep and len(admitted.points) == 1000
    wide = Checked(Dialect.OPENQASM3, qubits=20, operations=40, clbits=20, inputs=())
    assert check(shots=100_000, program=wide, memory=True, compression="zstd") is not None
    with pytest.raises(Refused) as caught:
        check(shots=100_000, program=wide, memory=True, compression="none")
    assert caught.value.field == "memory" and "QC_MAX_RECORD_BYTES" in caught.value.message
    body = TaskRequest(qc="(read apart)", memory=True)
    small = Settings(qc_compression="zstd", qc_max_result_bytes=2**21)
    with pytest.raises(Refused) as caught:
        checked_workload(body, wide, 100_000, small)
    assert "QC_MAX_RESULT_BYTES, before compression" in caught.value.message


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


def _entangler(measured: bool = True, mid: bool = False) -> str:
    """ry(theta) then a CNOT on two qubits, as Qiskit's exporter writes it; ``mid``: the first
    qubit is measured before the CNOT uses it again (not at the end)."""
    circuit = QuantumCircuit(2, 2 if measured else 0)
    circuit.ry(Parameter("theta"), 0)
    if mid:
        circuit.measure(0, 0)
    circuit.cx(0, 1)
    if measured:
        circuit.measure([1] if mid else [0, 1], [1] if mid else [0, 1])
    return qasm3.dumps(circuit)


BELL_THETA, MID_THETA, UNMEASURED_THETA = _entangler(), _entangler(mid=True), _entangler(False)
AT_THETA = {"parameters": {"theta": 0.5}}


@pytest.mark.parametrize(
    ("program", "fields", "shots"),
    [
        (MID_THETA, AT_THETA | {"observables": ["ZZ"]}, 100),
        (MID_THETA, AT_THETA | {"outputs": ["probabilities"]}, 0),
        (BELL_THETA, {}, 100),
        (BELL_THETA, {"parameters": {"theta": 0.5, "phi": 1.0}}, 100),
        (BELL_THETA, AT_THETA | {"observables": ["ZZZ"]}, 100),
        (BELL_THETA, AT_THETA | {"outputs": ["statevector"], "noise": NOISY}, 0),
        (BELL_THETA, AT_THETA | {"outputs": ["statevector"], "method": "density_matrix"}, 0),
        (BELL_THETA, AT_THETA | {"observables": ["ZZ"], "method": "extended_stabilizer"}, 0),
        (UNMEASURED_THETA, AT_THETA | {"outputs": ["probabilities"]}, 0),
    ],
)
def test_the_processor_holds_a_record_to_the_rules_the_api_applied(program, fields, shots):
    """A request the API refuses is refused in the same words by the processor, were its record
    to reach the log another way (a replay with other settings, another writer)."""
    body = TaskRequest(qc=program, shots=shots, **fields)
    checked = check_program(program, GENEROUS, method=body.method)
    assert checked is not None
    with pytest.raises(Refused) as refused:
        checked_workload(body, checked, shots, Settings())
    point = fields.get("parameters")
    observables = [{label: 1.0} for label in fields.get("observables", [])]
    with pytest.raises(ProgramError) as failed:
        run_program(
            program, shots, 7, GENEROUS, 1024,
            parameters=[point] if point else None,
            observables=observables or None,
            outputs=body.outputs,
            method=body.method,
            noise=Noise.model_validate(fields["noise"]) if "noise" in fields else None,
        )  # fmt: skip
    assert failed.value.message == refused.value.message
    assert failed.value.code == ("limit_exceeded" if refused.value.kind != "value_error"
                                 else "invalid_program")  # fmt: skip
