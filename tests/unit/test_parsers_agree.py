"""The fast (Rust) parser and the reference (ANTLR) parser give the same counts for a fixed
seed wherever the fast one takes a program, and the fast one never takes a program the
reference refuses; whatever the fast one refuses still parses as before."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from qiskit import QuantumCircuit, qasm3
from qiskit.circuit.library import get_standard_gate_name_mapping
from qiskit.circuit.random import random_circuit
from qiskit.quantum_info import Operator
from qiskit_aer import AerSimulator

from processor.simulate import prepare
from programs import front
from programs import qasm3 as qasm
from programs.exported import exported_gates, rust_form
from tests.helpers import BELL
from tests.reading import parse_program

STD = 'OPENQASM 3.0;\ninclude "stdgates.inc";\n'
#: Programs in several styles; the fast parser takes some, refuses others.
CORPUS = [
    BELL,
    STD + "qubit[3] q;\nbit[3] c;\nh q[0];\ncx q[0], q[1];\ncx q[1], q[2];\nc = measure q;\n",
    STD + "qubit[2] a;\nqubit b;\nbit[2] m;\nbit n;\nh a;\nccx a[0], a[1], b;\n"
    "m = measure a;\nn = measure b;\n",
    STD + "qubit[2] q;\nbit[2] c;\nrx(pi/3) q[0];\nry(0.25*pi) q[1];\ncrz(-pi/7) q[0], q[1];\n"
    "u3(0.1, 0.2, 0.3) q[1];\nreset q[0];\nh q[0];\nbarrier q;\nc[1] = measure q[0];\n"
    "c[0] = measure q[1];\n",
    STD + "qubit[2] q;\nbit[2] c;\nctrl @ x q[0], q[1];\ninv @ s q[0];\npow(2) @ t q[1];\n"
    "c = measure q;\n",
    STD + "qubit q;\nbit c;\nU(pi/2, 0, pi) q;\ngphase(pi/4);\nc = measure q;\n",
    STD + "gate mine a, b { h a; cx a, b; }\nqubit[2] q;\nbit[2] c;\nmine q[0], q[1];\n"
    "c = measure q;\n",
    STD + "qubit q;\nbit c;\nh q;\nc = measure q;\nif (c) x q;\nc = measure q;\n",
    "OPENQASM 3.0;\nqubit q;\nbit c;\nU(pi, 0, pi) q;\nc = measure q;\n",
    # id: the parsers build different gates for it, and the simulator picks another method for
    # the otherwise Clifford circuit (stabilizer or statevector), with other counts.
    STD + "qubit[2] q;\nbit[2] c;\nsx q[1];\nsx q[0];\nid q[0];\nc = measure q;\n",
    # Comments that mention include: the fast parser is not even tried.
    STD + "// include nothing else\nqubit q;\nbit c;\nh q;\nc = measure q;\n",
]
GATES_1 = ["h", "x", "y", "z", "s", "sdg", "t", "tdg", "sx"]
GATES_1P = ["rx", "ry", "rz", "p"]
GATES_2 = ["cx", "cy", "cz", "ch", "swap"]
GATES_2P = ["crx", "cry", "crz", "cp"]


def counts(circuit: QuantumCircuit, seed: int = 11) -> dict[str, int]:
    backend = AerSimulator(max_parallel_threads=1)
    job = backend.run(prepare(circuit, backend), shots=256, seed_simulator=seed)
    return dict(job.result().get_counts())


def reference(text: str) -> QuantumCircuit:
    return qasm.reference_parse(text)


def check_agree(text: str) -> bool:
    """Whether the fast parser took the program (and if so, that both agree)."""
    fast = qasm.fast_parse(text)
    if fast is None:
        return False
    slow = reference(text)  # raises if the reference refuses what the fast one took
    assert (fast.num_qubits, fast.num_clbits) == (slow.num_qubits, slow.num_clbits)
    assert counts(fast) == counts(slow), text
    return True


def test_the_corpus_agrees_and_the_fast_parser_takes_the_common_programs() -> None:
    taken = [check_agree(text) for text in CORPUS]
    assert taken[:3] == [True, True, True]  # everyday programs take the fast path
    assert not taken[-1]  # a comment mentioning include: the reference parser only
    for text in CORPUS:  # parse_program accepts every one of them, whichever way
        assert parse_program(text).num_clbits > 0


@st.composite
def programs(draw: st.DrawFn) -> str:
    n = draw(st.integers(1, 4))
    circuit = QuantumCircuit(n, n)
    angle = st.floats(-2 * math.pi, 2 * math.pi, allow_nan=False)
    for _ in range(draw(st.integers(1, 12))):
        wires = draw(st.permutations(range(n)))
        kind = draw(st.sampled_from(["1", "1p"] + (["2", "2p"] if n > 1 else [])))
        if kind == "1":
            getattr(circuit, draw(st.sampled_from(GATES_1)))(wires[0])
        elif kind == "1p":
            getattr(circuit, draw(st.sampled_from(GATES_1P)))(draw(angle), wires[0])
        elif kind == "2":
            getattr(circuit, draw(st.sampled_from(GATES_2)))(wires[0], wires[1])
        else:
            getattr(circuit, draw(st.sampled_from(GATES_2P)))(draw(angle), wires[0], wires[1])
    circuit.measure(range(n), draw(st.permutations(range(n))))
    return qasm3.dumps(circuit)


@settings(max_examples=60, deadline=None)
@given(programs())
def test_generated_standard_gate_programs_agree(text: str) -> None:
    # Only the programs the fast parser takes say something here; hypothesis fails the test
    # (a health check) if it must throw away too many, so most of them are taken.
    assume(check_agree(text))


def test_a_path_to_a_file_never_reaches_the_fast_parser(tmp_path) -> None:
    secret = tmp_path / "secret.inc"
    secret.write_text("gate leaked a { x a; }\n")
    for include in (str(secret), "../" * 8 + str(secret)[1:], 'stdgates.inc"; include "x'):
        text = f'OPENQASM 3.0;\ninclude "{include}";\nqubit q;\nbit c;\nc = measure q;\n'
        assert not qasm.only_standard_includes(text)
        assert qasm.fast_parse(text) is None


# --- Programs Qiskit's exporter writes: gate definitions and the built-in U ----------------------


def exported_with(name: str) -> str:
    """A program as ``qasm3.dumps`` writes it, using the standard gate ``name`` (so defining it),
    with rotations and a U around it so that the counts depend on the gate's every detail."""
    gate = get_standard_gate_name_mapping()[name]
    params = [0.3 + 0.7 * i for i in range(len(gate.params))]
    circuit = QuantumCircuit(gate.num_qubits)
    for qubit in range(gate.num_qubits):
        circuit.ry(0.5 + qubit, qubit)
        circuit.rz(0.2 * qubit + 0.1, qubit)
    circuit.u(0.4, 1.1, -0.2, 0)
    circuit.append(type(gate)(*params), range(gate.num_qubits))
    circuit.h(0)
    circuit.measure_all()
    return qasm3.dumps(circuit)


@pytest.mark.parametrize("name", sorted(exported_gates()))
def test_every_gate_the_exporter_defines_takes_the_fast_path_and_agrees(name: str) -> None:
    text = exported_with(name)
    assert f"gate {name}" in text
    assert check_agree(text)


def test_exported_random_circuits_agree_and_most_take_the_fast_path() -> None:
    taken = [
        check_agree(qasm3.dumps(random_circuit(4, 3, max_operands=4, measure=True, seed=seed)))
        for seed in range(30)
    ]
    # The rest define a gate whose written body drops its global phase (ecr, ryy, ...).
    assert sum(taken) >= 15, taken


def test_every_gate_in_the_table_is_exactly_its_written_body() -> None:
    """The Rust parser builds these gates from their constructors; the program means the body it
    wrote. The exporter drops a definition's global phase (``sxdg``, ``ecr``, ...), which would
    matter under ``ctrl @``, so such gates are not in the table."""
    table = exported_gates()
    assert {"rzz", "cs", "rccx", "c3sx", "cu1"} <= table.keys()
    assert "sxdg" not in table
    for name in table:
        gate = get_standard_gate_name_mapping()[name]
        circuit = QuantumCircuit(gate.num_qubits)
        circuit.append(
            type(gate)(*[0.1 + 0.4 * i for i in range(len(gate.params))]), circuit.qubits
        )
        written = qasm.reference_parse(qasm3.dumps(circuit))
        assert np.allclose(Operator(written).data, Operator(circuit).data), name


def test_a_definition_not_as_the_exporter_writes_it_runs_its_own_body() -> None:
    """The Rust parser would build the standard gate and ignore the body: such a program must
    go to the reference parser, whose counts follow the body."""
    text = exported_with("rzz")
    definition = exported_gates()["rzz"].text
    assert definition in text
    mine = "gate rzz(p0) _gate_q_0, _gate_q_1 {\n  x _gate_q_0;\n  x _gate_q_1;\n}\n"
    changed = text.replace(definition, mine)
    assert rust_form(changed) is None
    assert qasm.fast_parse(changed) is None
    assert counts(parse_program(changed)) == counts(qasm.reference_parse(changed))
    assert counts(parse_program(changed)) != counts(parse_program(text))


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda t, d: t.replace(d, "/*\n" + d + "*/\n"), id="inside a comment"),
        pytest.param(lambda t, d: t.replace(d, d + "// no gate here\n"), id="a gate comment"),
        pytest.param(lambda t, d: t.replace(d, "") + d, id="after the statements"),
        pytest.param(lambda t, d: t.replace(d, d + d), id="twice"),
        pytest.param(lambda t, d: t.replace(d, d.replace("{", " {", 1)), id="other spacing"),
        pytest.param(
            lambda t, d: t.replace(exported_gates()["cs"].text, ""), id="a gate it uses missing"
        ),
        pytest.param(lambda t, d: t.replace("OPENQASM 3.0;", "OPENQASM 3;"), id="other header"),
    ],
)
def test_anything_but_the_exporters_layout_goes_to_the_reference_parser(change) -> None:
    text = exported_with("csx")
    assert rust_form(text) is not None
    changed = change(text, exported_gates()["csx"].text)
    assert changed != text
    assert rust_form(changed) is None
    try:
        expected = counts(qasm.reference_parse(changed))
    except front.ProgramError:
        with pytest.raises(front.ProgramError):
            parse_program(changed)
    else:
        assert counts(parse_program(changed)) == expected
