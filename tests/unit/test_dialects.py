"""The three dialects as other tools write them: OpenQASM 2 (Qiskit's exporter, QASMBench's
style), OpenQASM 3 (Qiskit's exporter, and what only pyqasm unrolls) read with the exact
probabilities of the circuit written; detection; includes that never open a file; bombs
priced exactly and refused before anything expands them; and any text at all either read or
refused with a reason, never another exception. Longer than 300 lines: the three dialects
side by side, so that a case covered for one is visibly covered for the others."""

from __future__ import annotations

import math

import pyqasm
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from qiskit import QuantumCircuit, qasm2, qasm3
from qiskit.circuit.random import random_circuit
from qiskit_qasm3_import import convert

from processor.simulate import run_program
from programs import cost
from programs import qasm2 as reader2
from programs import qasm3 as reader3
from programs.detect import detect
from programs.errors import ProgramError
from programs.front import read_program
from programs.limits import Limits
from schemas.events import Dialect
from tests.exact import measured_probabilities, same_distribution

LIMITS = Limits(max_qubits=20, max_shots=100_000, max_operations=10_000, max_program_bytes=65536)
Q2 = 'OPENQASM 2.0;\ninclude "qelib1.inc";\n'
Q3 = 'OPENQASM 3.0;\ninclude "stdgates.inc";\n'


def counts_agree(text: str, expected: dict[str, float], shots: int = 2000) -> None:
    (counts, _, _, _, *_), _ = run_program(text, shots, 5, LIMITS, 1024)
    for key, count in counts.items():
        p = expected.get(key.replace(" ", ""), 0.0)
        assert p > 1e-9, f"{key} observed, impossible"
        assert abs(count / shots - p) <= 5 * math.sqrt(p * (1 - p) / shots) + 0.01, key


def read(text: str, dialect: Dialect) -> QuantumCircuit:
    program = read_program(text, LIMITS)
    assert program is not None and program.dialect is dialect
    return program.circuit


def many_gates() -> QuantumCircuit:
    circuit = QuantumCircuit(4)
    for qubit in range(4):
        circuit.ry(0.4 + 0.3 * qubit, qubit)
    for gate, args in [
        ("rzz", (0.7, 0, 1)), ("rxx", (0.3, 1, 2)), ("ryy", (1.1, 2, 3)), ("rzx", (0.5, 3, 0)),
        ("cu", (0.3, 0.2, 0.1, 0.4, 0, 2)), ("ch", (1, 3)), ("crx", (0.9, 2, 0)),
        ("cry", (0.2, 3, 1)), ("swap", (0, 3)), ("ccx", (0, 1, 2)), ("cswap", (3, 0, 1)),
        ("sdg", (0,)), ("tdg", (1,)), ("sx", (2,)), ("sxdg", (3,)), ("u", (0.1, 0.2, 0.3, 0)),
        ("p", (0.6, 1)), ("rccx", (0, 1, 2)), ("dcx", (2, 3)), ("ecr", (1, 0)),
        ("iswap", (2, 1)), ("cs", (0, 3)), ("csx", (1, 2)), ("cp", (0.8, 3, 2)),
        ("mcx", ([0, 1, 2], 3)), ("h", (range(4),)),
    ]:  # fmt: skip
        getattr(circuit, gate)(*args)
    circuit.measure_all()
    return circuit


CIRCUITS = [random_circuit(4, 5, max_operands=3, measure=True, seed=s) for s in range(8)]
CIRCUITS.append(many_gates())


@pytest.mark.parametrize("index", range(len(CIRCUITS)))
@pytest.mark.parametrize(
    ("dumps", "dialect"), [(qasm2.dumps, Dialect.OPENQASM2), (qasm3.dumps, Dialect.OPENQASM3)]
)
def test_what_qiskit_exports_runs_with_the_circuit_s_probabilities(dumps, dialect, index) -> None:
    original = CIRCUITS[index]
    circuit = read(dumps(original), dialect)
    assert same_distribution(measured_probabilities(circuit), measured_probabilities(original))


#: Programs in QASMBench's style, each with its distribution worked out by hand.
QASMBENCH = [
    # A custom gate, a parameterised one, a barrier, a broadcast measurement.
    (
        Q2 + "gate bell a, b { h a; cx a, b; }\ngate rot(theta) a { ry(theta) a; }\n"
        "qreg q[3];\ncreg c[3];\nbell q[0], q[1];\nrot(pi/2) q[2];\nbarrier q;\nmeasure q -> c;\n",
        {"000": 0.25, "011": 0.25, "100": 0.25, "111": 0.25},
    ),
    # Cuccaro's ripple-carry adder (OpenQASM 2's own example): 1 + 3 = 4.
    (
        Q2 + "gate majority a,b,c { cx c,b; cx c,a; ccx a,b,c; }\n"
        "gate unmaj a,b,c { ccx a,b,c; cx c,a; cx a,b; }\n"
        "qreg cin[1];\nqreg a[2];\nqreg b[2];\nqreg cout[1];\ncreg ans[3];\n"
        "x a[0];\nx b;\nmajority cin[0],b[0],a[0];\nmajority a[0],b[1],a[1];\n"
        "cx a[1],cout[0];\nunmaj a[0],b[1],a[1];\nunmaj cin[0],b[0],a[0];\n"
        "measure b[0] -> ans[0];\nmeasure b[1] -> ans[1];\nmeasure cout[0] -> ans[2];\n",
        {"100": 1.0},
    ),
    # qelib1.inc's older names: H, H, CZ, H is a CNOT after H.
    (
        Q2 + "qreg q[2];\ncreg c[2];\nu3(pi/2,0,pi) q[0];\nu2(0,pi) q[1];\n"
        "cu1(pi) q[0],q[1];\nu2(0,pi) q[1];\nid q[0];\nmeasure q -> c;\n",
        {"00": 0.5, "11": 0.5},
    ),
    # A condition on a register: q[1] is flipped exactly when q[0] was measured 1.
    (
        Q2 + "qreg q[2];\ncreg c[1];\ncreg d[2];\nh q[0];\nmeasure q[0] -> c[0];\n"
        "if(c==1) x q[1];\nmeasure q -> d;\n",
        {"000": 0.5, "111": 0.5},
    ),
]


@pytest.mark.parametrize(("text", "expected"), QASMBENCH)
def test_openqasm2_as_benchmarks_write_it(text: str, expected: dict[str, float]) -> None:
    circuit = read(text, Dialect.OPENQASM2)
    if "if(" not in text:
        assert same_distribution(measured_probabilities(circuit), expected)
    counts_agree(text, expected)


#: What Qiskit's importer refuses and pyqasm unrolls, with distributions worked out by hand.
UNROLLED = [
    (
        Q3 + "const int n = 3;\nqubit[n] q;\nbit[n] c;\nh q[0];\n"
        "for int i in [0:n - 2] { cx q[i], q[i + 1]; }\nc = measure q;\n",
        {"000": 0.5, "111": 0.5},
    ),
    (
        Q3 + "def bell(qubit a, qubit b) { h a; cx a, b; }\nqubit[3] q;\nbit[3] c;\n"
        "bell(q[0], q[2]);\nx q[1];\nc = measure q;\n",
        {"010": 0.5, "111": 0.5},
    ),
    (
        Q3 + "qubit[4] q;\nbit[4] c;\nint k = 2;\nint m = k + 1;\n"
        "for int i in [0:k] { x q[i]; }\nfor int j in [m:m] { h q[j]; }\nc = measure q;\n",
        {"0111": 0.5, "1111": 0.5},
    ),
    (
        Q3 + "qubit[2] q;\nbit c;\nbit[2] d;\nh q[0];\nc = measure q[0];\n"
        "if (c == 1) { x q[1]; }\nd = measure q;\n",
        {"000": 0.5, "111": 0.5},
    ),
    # No version statement (optional in the language; pyqasm needs one), and stdgates.inc's
    # phase and cphase (which pyqasm knows by other names).
    (
        'include "stdgates.inc";\nconst int n = 2;\nqubit[n] q;\nbit[n] c;\nx q[0];\n'
        "cphase(pi) q[0], q[1];\nphase(pi/2) q[1];\nh q[1];\nc = measure q;\n",
        {"01": 0.5, "11": 0.5},
    ),
    # Parameters declared out of alphabetical order, which the importer would swap.
    (
        Q3 + "gate g(theta, phi) a { rz(phi) a; rx(theta) a; }\nqubit q;\nbit c;\n"
        "g(pi, 0.3) q;\nc = measure q;\n",
        {"1": 1.0},
    ),
]


def importer_refuses(text: str) -> bool:
    program = reader3.tree(text)
    try:
        return reader3.misbound(program) is not None or convert(program) is None
    except Exception:
        return True


@pytest.mark.parametrize(("text", "expected"), UNROLLED)
def test_what_only_pyqasm_unrolls_runs_as_written(text: str, expected: dict[str, float]) -> None:
    assert importer_refuses(text)
    circuit = read(text, Dialect.OPENQASM3)
    if "if (" not in text:
        assert same_distribution(measured_probabilities(circuit), expected)
    counts_agree(text, expected)


def test_a_refusal_gives_the_importer_s_and_pyqasm_s_reasons() -> None:
    text = Q3 + "const int n = 2;\nqubit[n] q;\nfoo(n) q[0];\n"
    with pytest.raises(ProgramError) as caught:
        read_program(text, LIMITS)
    assert (caught.value.line, caught.value.column) == (3, 1)
    assert "ConstantDeclaration" in caught.value.message
    assert "pyqasm could not unroll it either" in caught.value.message
    assert "foo" in caught.value.message


DETECTED = [
    (Q2 + "qreg q[1];\nh q[0];\n", Dialect.OPENQASM2),
    ("OPENQASM 2;\nqreg q[1];\n", Dialect.OPENQASM2),
    ("// by hand\nOPENQASM 2.0;\nqreg q[2];\ncnot q[0], q[1];\n", Dialect.OPENQASM2),
    (Q2 + "qreg q[1];\n// OPENQASM 3.0;\n", Dialect.OPENQASM2),
    (Q3 + "qubit q;\nh q;\n", Dialect.OPENQASM3),
    (Q3 + "qubit[2] q;\ncnot q[0], q[1];\n", Dialect.OPENQASM3),  # includes: not Braket
    ("OPENQASM 3;\nqubit q;\nU(0, 0, 0) q;\n", Dialect.OPENQASM3),
    ("OPENQASM 3.0;\nqubit q;\nbit c;\nc = measure q;\n", Dialect.OPENQASM3),
    ("OPENQASM 3.0;\ngate cnot a, b { U(pi, 0, pi) b; }\nqubit[2] q;\ncnot q[0], q[1];\n",
     Dialect.OPENQASM3),
    ("// cnot q[0], q[1];\nOPENQASM 3.0;\nqubit q;\nU(0, 0, 0) q;\n", Dialect.OPENQASM3),
    ("/* h $0; */ OPENQASM 3.0;\nqubit q;\n", Dialect.OPENQASM3),
    ("qubit q;\nbit c;\nc = measure q;\n", Dialect.OPENQASM3),
    ("OPENQASM 3.0;\nqubit[2] q;\ncnot q[0], q[1];\n", Dialect.BRAKET),
    ("OPENQASM 3.0;\nqubit q;\nh q;\n", Dialect.BRAKET),
    ("OPENQASM 3.0;\nqubit q;\ngpi2(0.1) q;\n", Dialect.BRAKET),
    ("OPENQASM 3.0;\nqubit[2] q;\nctrl @ x q[0], q[1];\n", Dialect.BRAKET),
    ("OPENQASM 3.0;\nbit b;\nb = measure $0;\n", Dialect.BRAKET),
    ("OPENQASM 3.0;\nqubit q;\n#pragma braket noise bit_flip(0.1) q\n", Dialect.BRAKET),
    ("qubit[2] q;\ncnot q[0], q[1];\n", Dialect.BRAKET),
]  # fmt: skip


@pytest.mark.parametrize(("text", "dialect"), DETECTED)
def test_detection(text: str, dialect: Dialect) -> None:
    assert detect(text) is dialect


INCLUDING = [
    'OPENQASM 2.0;\ninclude "{}";\ninclude "qelib1.inc";\nqreg q[1];\ncreg c[1];\nleak q[0];\n',
    'OPENQASM 2.0;\ninclude "{}";\nqreg q[1];\ncreg c[1];\nleak q[0];\nmeasure q -> c;\n',
    'OPENQASM 3.0;\ninclude "{}";\nqubit q;\nbit c;\nleak q;\nc = measure q;\n',
    'OPENQASM 3.0;\ninclude "{}";\ninclude "stdgates.inc";\nqubit q;\nbit c;\nleak q;\n',
]


@pytest.mark.parametrize("template", INCLUDING, ids=["2", "2 bare", "3 bare", "3"])
@pytest.mark.parametrize("path", ["/etc/passwd", "foo.inc", "./foo.inc"])
def test_an_include_is_refused_by_name_and_nothing_is_read(template, path, tmp_path, monkeypatch):
    (tmp_path / "foo.inc").write_text("gate leak a { U(pi, 0, pi) a; }\n")
    monkeypatch.chdir(tmp_path)  # were foo.inc read, the program would be valid
    with pytest.raises(ProgramError) as caught:
        read_program(template.format(path), LIMITS)
    assert f'include "{path}"' in caught.value.message
    assert caught.value.line == 2


def nested(definition: str, call: str, levels: int = 30) -> str:
    lines = [definition.format(name="g0", body="x a; x a;")]
    lines += [
        definition.format(name=f"g{i}", body=f"g{i - 1} a; g{i - 1} a;")
        for i in range(1, levels + 1)
    ]
    return "\n".join(lines) + "\n" + call.format(name=f"g{levels}") + "\n"


REFUSED = {
    "gates 3": Q3 + nested("gate {name} a {{ {body} }}", "qubit q;\n{name} q;"),
    "gates 2": Q2 + nested("gate {name} a {{ {body} }}", "qreg q[1];\n{name} q[0];"),
    "loop": Q3 + "qubit q;\nfor int i in [0:999999999] { h q; }\n",
    "braket loop": "OPENQASM 3.0;\nqubit q;\nfor int i in [1:1000000000] { v q; }\n",
    "qubits": Q3 + "qubit[100000000] q;\nh q[0];\n",
    "qubits 2": Q2 + "qreg q[100000000];\nh q[0];\n",
    "nested loops": Q3 + "qubit[2] q;\nfor int i in [0:999] { for int j in [0:999] "
    "{ for int k in [0:999] { cx q[0], q[1]; } } }\n",
    # Priced at one pass, a while loop is never handed to pyqasm, which would run every pass
    # (or never stop): the importer's refusal stands.
    "while true": Q3 + "qubit q;\nbit c;\nwhile (true) { h q; }\nc = measure q;\n",
    "while counted": Q3 + "qubit q;\nint i = 0;\nwhile (i < 1000000000) { h q; i += 1; }\n",
}


@pytest.mark.parametrize("text", REFUSED.values(), ids=REFUSED.keys())
def test_bombs_are_priced_and_refused_without_being_built(text: str) -> None:
    with pytest.raises(ProgramError) as caught:
        read_program(text, LIMITS)
    code = "invalid_program" if "while" in text else "limit_exceeded"
    assert caught.value.code == code


PRICED = (
    Q3 + "gate g a { h a; x a; }\ngate g2 a, b { g a; cx a, b; rz(0.5) b; }\nqubit[3] q;\n"
    "bit[3] c;\nh q;\nfor int i in [0:1] { g2 q[i], q[i + 1]; }\nreset q[0];\nc = measure q;\n"
)


def unrolled_size(text: str) -> int:
    module = pyqasm.loads(text)
    module.unroll()
    lines = pyqasm.dumps(module).splitlines()[2:]  # the version and the include
    return sum(1 for line in lines if line and not line.startswith(("qubit", "bit", "barrier")))


def test_costs_are_the_size_of_the_expanded_circuit() -> None:
    assert unrolled_size(PRICED) == 15  # h 3, 2 x (h x cx rz), reset, measure 3
    assert cost.tree_cost(reader3.tree(PRICED)) == cost.TreeCost(qubits=3, operations=15)
    program = read_program(PRICED, LIMITS)
    assert program is not None and program.operations == 15
    assert cost.circuit_cost(program.circuit) == 15
    text = QASMBENCH[1][0]  # the adder: gates defined once, called several times
    circuit = reader2.parse(text)
    custom = ["majority", "unmaj"]
    expanded = circuit.decompose(gates_to_decompose=custom, reps=2)
    assert not {i.operation.name for i in expanded.data} & set(custom)
    assert cost.circuit_cost(circuit) == len(expanded.data) == 3 + 2 * 3 + 1 + 2 * 3 + 3


TOKENS = (
    "qubit qreg creg bit int const def gate for in if else measure reset barrier include U "
    "gphase ctrl @ inv pow(2) h x cx cnot xx ccnot rz(pi/3) q c a q[0] q[1] $0 $1 [0:3] "
    '[0:1000] == = -> ; ; ; , { } ( ) [ ] 0 1 2 pi "stdgates.inc" "qelib1.inc" #pragma braket '
    "verbatim box while true // /* */ \n \n"
).split(" ")
HEADERS = [Q2, "OPENQASM 3.0;\n", Q3]


def read_or_refused(text: str) -> None:
    try:
        read_program(text, LIMITS)
    except ProgramError as exc:
        assert isinstance(exc.message, str) and exc.message.strip()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(HEADERS),
    st.one_of(st.text(max_size=80), st.lists(st.sampled_from(TOKENS), max_size=40).map(" ".join)),
)
def test_any_text_after_a_header_is_read_or_refused_with_a_reason(header: str, tail: str) -> None:
    read_or_refused(header + tail)


VALID = [QASMBENCH[0][0], QASMBENCH[3][0], UNROLLED[0][0], PRICED, qasm3.dumps(many_gates())]
VALID.append("OPENQASM 3.0;\nbit[2] b;\nh $0;\ncnot $0, $3;\nxy(0.3) $0, $3;\nb[0] = measure $0;\n")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(VALID).flatmap(lambda t: st.permutations(t.splitlines(keepends=True))))
def test_shuffled_programs_are_read_or_refused_with_a_reason(lines: list[str]) -> None:
    read_or_refused("".join(lines))
