"""What each method can run, checked before anything runs: the gate tables against Aer's own,
the device catalog against qiskit-ibm-runtime's provider, and the front end's refusals."""

from __future__ import annotations

import warnings

import pytest
from qiskit_aer import AerSimulator

from processor.simulate import run_program
from programs.devices import catalog, device_backend
from programs.errors import ProgramError
from programs.front import check_program, measures_at_end
from programs.methods import EXTENDED_STABILIZER_GATES, STABILIZER_GATES
from schemas.events import Method, Noise
from tests.reading import GENEROUS, parse_program

HEADER = 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nbit[2] c;\n'
#: Aer's instructions that are not gates a program can call.
NOT_GATES = {"qerror_loc", "quantum_channel", "roerror", "kraus", "superop"}


@pytest.mark.parametrize(
    ("method", "table"),
    [("stabilizer", STABILIZER_GATES), ("extended_stabilizer", EXTENDED_STABILIZER_GATES)],
)
def test_the_gate_tables_are_aers(method: str, table: frozenset[str]) -> None:
    names = set(AerSimulator(method=method).configuration().basis_gates)
    gates = {n for n in names if not n.startswith(("save_", "set_"))} - NOT_GATES
    assert gates == table


def test_the_device_catalog_is_the_fake_providers() -> None:
    from qiskit_ibm_runtime.fake_provider import FakeProviderForBackendV2

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # some snapshots warn that they are not typical
        backends = FakeProviderForBackendV2().backends()
    assert {name: d.qubits for name, d in catalog().items()} == {
        b.name: b.num_qubits for b in backends
    }
    assert device_backend("fake_manila").num_qubits == 5


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("t q[0];", "the program's t"),
        ("rz(0.3) q[0];", "rz(0.3)"),
        ("rx(0.25) q[1];", "the program's rx"),
        ("ccx q[0], q[1], q[1];", None),  # invalid anyway: any refusal will do
    ],
)
def test_the_stabilizer_method_refuses_what_is_not_clifford(body: str, words: str | None) -> None:
    with pytest.raises(ProgramError) as caught:
        check_program(HEADER + body + "\nc = measure q;", GENEROUS, method=Method.STABILIZER)
    if words:
        assert words in str(caught.value)


def test_clifford_programs_pass_and_run_as_stabilizer_states() -> None:
    text = HEADER + "h q[0];\nu(pi/2, 0, pi) q[1];\nrz(pi/2) q[0];\ncx q[0], q[1];\nc = measure q;"
    assert check_program(text, GENEROUS, method=Method.STABILIZER) is not None
    (counts, _, _, _, *_), _ = run_program(text, 200, 3, GENEROUS, 1024, method=Method.STABILIZER)
    assert sum(counts.values()) == 200
    with pytest.raises(ProgramError, match="program's t"):
        run_program(HEADER + "t q[0];\nc = measure q;", 10, 1, GENEROUS, 1024, method="stabilizer")
    inputs = 'OPENQASM 3.0;\ninclude "stdgates.inc";\ninput float a;\nqubit q;\nrz(a) q;\n'
    with pytest.raises(ProgramError, match="inputs"):
        check_program(inputs, GENEROUS, method=Method.STABILIZER)
    wide = HEADER + "rx(0.25) q[1];\nccx q[0], q[1], q[0];"
    with pytest.raises(ProgramError):
        check_program(wide, GENEROUS, method=Method.EXTENDED_STABILIZER)
    assert check_program(HEADER + "rx(0.25) q[1];", GENEROUS, method=Method.EXTENDED_STABILIZER)


@pytest.mark.parametrize(
    ("body", "at_end"),
    [
        ("h q[0];\nc = measure q;", True),
        ("h q[0];\nc[0] = measure q[0];\nbarrier q;\nc[1] = measure q[1];", True),
        ("c[0] = measure q[0];\nx q[0];\nc[1] = measure q[1];", False),
        ("c[0] = measure q[0];\nc[0] = measure q[1];", False),
        ("c[0] = measure q[0];\nif (c[0]) x q[1];\nc[1] = measure q[1];", False),
        ("h q[0];", True),
    ],
)
def test_measurements_at_the_end(body: str, at_end: bool) -> None:
    assert measures_at_end(parse_program(HEADER + body)) is at_end


@pytest.mark.parametrize(
    "text",
    [
        HEADER + "cx q[1], q[1];",
        HEADER + "ccx q[0], q[1], q[1];",
        HEADER + "gate g a, b { cx a, b; }\ng q[0], q[0];",
        "OPENQASM 3.0;\nqubit[2] q;\ncnot q[0], q[0];",  # Braket's
        'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncx q[0], q[0];',
    ],
)
def test_a_gate_on_the_same_qubit_twice_is_refused(text: str) -> None:
    with pytest.raises(ProgramError, match=r"same qubit twice|duplicate"):
        check_program(text, GENEROUS)


def test_a_record_naming_no_device_fails_with_the_reason() -> None:
    """A record that reached the log past the API's checks (another writer, a replay)."""
    text = HEADER + "h q[0];\nc = measure q;"
    with pytest.raises(ProgramError, match="no device snapshot named 'fake_nowhere'"):
        run_program(text, 10, 1, GENEROUS, 1024, noise=Noise(device="fake_nowhere"))


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"observables": [{"ZZ": 1.0}]}, "observables need"),
        ({"outputs": ["probabilities"]}, "probabilities need"),
    ],
)
def test_a_record_asking_the_state_of_a_circuit_measured_midway_fails(fields, words) -> None:
    """Records that reached the log past the API's checks: exact outputs and observables are
    of the state before the final measurements, which a mid-circuit measurement leaves
    undefined."""
    text = HEADER + "c[0] = measure q[0];\nx q[0];\nc[1] = measure q[1];"
    with pytest.raises(ProgramError, match=words):
        run_program(text, 10, 1, GENEROUS, 1024, **fields)
