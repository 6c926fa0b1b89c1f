"""Braket's OpenQASM 3 means what Braket means: every built-in gate is Braket's own matrix
(global phase included) on both paths, the Rust parser's constructors and the reference
parser's bodies; programs Braket's SDK writes run with the probabilities Braket computes; what
is not run (``#pragma braket``) or is wrong is refused at the line and column the client wrote."""

from __future__ import annotations

import math

import numpy as np
import pytest
from braket.circuits import Circuit
from braket.circuits import gates as bg
from braket.circuits.serialization import (
    IRType,
    OpenQASMSerializationProperties,
    QubitReferenceType,
)
from qiskit import QuantumCircuit
from qiskit.quantum_info import Operator

from processor.simulate import run_program
from programs import qasm3
from programs.braket import gates, translated
from programs.errors import ProgramError
from programs.front import read_program
from programs.limits import Limits
from schemas.events import Dialect
from tests.exact import measured_probabilities, same_distribution

LIMITS = Limits(max_qubits=20, max_shots=100_000, max_operations=10_000, max_program_bytes=65536)
#: Braket's built-in gates: Braket's SDK class and its number of parameters.
BUILTINS = {
    "i": (bg.I, 0), "cnot": (bg.CNot, 0), "ccnot": (bg.CCNot, 0),
    "phaseshift": (bg.PhaseShift, 1), "cphaseshift": (bg.CPhaseShift, 1),
    "cphaseshift00": (bg.CPhaseShift00, 1), "cphaseshift01": (bg.CPhaseShift01, 1),
    "cphaseshift10": (bg.CPhaseShift10, 1), "si": (bg.Si, 0), "ti": (bg.Ti, 0),
    "v": (bg.V, 0), "vi": (bg.Vi, 0), "cv": (bg.CV, 0), "xx": (bg.XX, 1), "yy": (bg.YY, 1),
    "zz": (bg.ZZ, 1), "xy": (bg.XY, 1), "pswap": (bg.PSwap, 1), "iswap": (bg.ISwap, 0),
    "ecr": (bg.ECR, 0), "gpi": (bg.GPi, 1), "gpi2": (bg.GPi2, 1), "prx": (bg.PRx, 2),
    "ms": (bg.MS, 3),
    # Shared with stdgates.inc.
    "h": (bg.H, 0), "x": (bg.X, 0), "y": (bg.Y, 0), "z": (bg.Z, 0), "s": (bg.S, 0),
    "t": (bg.T, 0), "rx": (bg.Rx, 1), "ry": (bg.Ry, 1), "rz": (bg.Rz, 1), "swap": (bg.Swap, 0),
    "cz": (bg.CZ, 0), "cy": (bg.CY, 0), "cswap": (bg.CSwap, 0),
}  # fmt: skip
VALUES = [(0.3, -1.1, 2.5), (2.0, 0.7, -0.4), (-4.0, 3.5, math.pi / 3)]


def one_gate(name: str, params: tuple[float, ...]) -> tuple[str, int]:
    """A Braket program of one gate on all its qubits (no include), and its qubit count."""
    qubits = BUILTINS[name][0](*params).qubit_count
    args = f"({', '.join(map(repr, params))})" if params else ""
    operands = ", ".join(f"q[{i}]" for i in range(qubits))
    return f"OPENQASM 3.0;\nqubit[{qubits}] q;\n{name}{args} {operands};\n", qubits


def big_endian(circuit: QuantumCircuit) -> np.ndarray:
    return Operator(circuit).reverse_qargs().data


def exactly(actual: np.ndarray, expected: np.ndarray) -> bool:
    return actual.shape == expected.shape and np.allclose(actual, expected, rtol=0, atol=1e-12)


def test_every_gate_of_the_table_is_checked() -> None:
    assert set(gates()) <= BUILTINS.keys()


@pytest.mark.parametrize("values", VALUES, ids=["a", "b", "c"])
@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_the_rust_path_builds_braket_s_matrix(name: str, values: tuple[float, ...]) -> None:
    gate_class, count = BUILTINS[name]
    params = values[:count]
    expected = gate_class(*params).to_matrix()
    text, qubits = one_gate(name, params)
    program = read_program(text, LIMITS, fast_only=True)
    assert program is not None and program.dialect is Dialect.BRAKET
    assert exactly(big_endian(program.circuit), expected)
    if name in gates():  # the constructor itself
        circuit = QuantumCircuit(qubits)
        circuit.append(gates()[name].build(*params), range(qubits))
        assert exactly(big_endian(circuit), expected)


@pytest.mark.parametrize("values", VALUES, ids=["a", "b", "c"])
@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_the_reference_path_builds_braket_s_matrix(name: str, values: tuple[float, ...]) -> None:
    gate_class, count = BUILTINS[name]
    params = values[:count]
    source, _, _ = translated(one_gate(name, params)[0], for_rust=False)
    assert exactly(big_endian(qasm3.reference_parse(source)), gate_class(*params).to_matrix())


def test_braket_s_u_is_openqasm_s_u() -> None:
    # Standard OpenQASM 3 too (U is the language's own), so read as such.
    program = read_program("OPENQASM 3.0;\nqubit q;\nU(0.3, -1.1, 2.5) q;\n", LIMITS)
    assert program is not None
    assert exactly(big_endian(program.circuit), bg.U(0.3, -1.1, 2.5).to_matrix())


# --- Programs Braket's SDK writes ----------------------------------------------------------------


def braket_probabilities(circuit: Circuit) -> dict[str, float]:
    """The distribution of ``b`` from Braket's own matrices. Braket measures every used qubit,
    in order, into ``b[0]``, ``b[1]``...; its basis states put the first qubit first, Qiskit's
    keys put ``b[0]`` last."""
    state = circuit.to_unitary()[:, 0]
    bits = circuit.qubit_count
    return {
        format(index, f"0{bits}b")[::-1]: float(p)
        for index, p in enumerate(np.abs(state) ** 2)
        if p > 1e-12
    }


def counts_agree(counts: dict[str, int], probabilities: dict[str, float]) -> None:
    shots = sum(counts.values())
    for key, count in counts.items():
        p = probabilities.get(key.replace(" ", ""), 0.0)
        assert p > 1e-9, f"{key} observed, impossible"
        assert abs(count / shots - p) <= 5 * math.sqrt(p * (1 - p) / shots) + 0.01, key


def sdk_circuits() -> list[Circuit]:
    layer = Circuit().h(0).ry(1, 0.7).rx(2, 1.3)
    return [
        layer.copy().cnot(0, 1).ccnot(0, 1, 2).phaseshift(2, 0.4).cphaseshift(1, 2, 0.9)
        .si(0).ti(1).v(2).vi(0).h(1).h(2).cz(0, 2).rz(1, 0.5).h(1),
        layer.copy().xx(0, 1, 0.3).yy(1, 2, 1.1).zz(0, 2, 0.6).pswap(0, 1, 0.8).h(0)
        .iswap(1, 2).ecr(0, 2).gpi(1, 0.2).gpi2(2, 1.7).cy(0, 1).swap(1, 2).h(2),
        layer.copy().cphaseshift00(0, 1, 0.5).cphaseshift01(1, 2, 1.2).cphaseshift10(0, 2, 2.1)
        .h(0).h(1).cv(0, 1).xy(1, 2, 0.9).prx(0, 0.4, 1.3).ms(0, 2, 0.1, 0.2, 0.3)
        .cswap(2, 0, 1).s(0).t(1).x(2).y(0).z(1).h(2),
        # Qubits 0, 2 and 5: Braket declares q[6] and measures the three it uses.
        Circuit().h(0).cnot(0, 2).xx(2, 5, 0.3).ccnot(0, 2, 5).si(5).ti(0).v(2).yy(0, 2, 0.4)
        .u(5, 0.1, 0.2, 0.3).gphase(0.3).i(2).gpi2(5, 0.1).h(2),
    ]  # fmt: skip


@pytest.mark.parametrize("index", range(len(sdk_circuits())))
def test_programs_braket_writes_run_with_braket_s_probabilities(index: int) -> None:
    circuit = sdk_circuits()[index]
    text = circuit.to_ir(IRType.OPENQASM).source
    expected = braket_probabilities(circuit)
    program = read_program(text, LIMITS)
    assert program is not None and program.dialect is Dialect.BRAKET
    assert same_distribution(measured_probabilities(program.circuit), expected)
    (counts, _, dialect, _, *_), _ = run_program(text, 4000, 7, LIMITS, 1024)
    assert dialect is Dialect.BRAKET and sum(counts.values()) == 4000
    counts_agree(counts, expected)


def test_physical_qubits_as_braket_s_sdk_writes_them() -> None:
    circuit = Circuit().h(0).cnot(0, 3).rx(3, 0.5).xx(0, 3, 0.7).cz(0, 3).h(3)
    physical = OpenQASMSerializationProperties(qubit_reference_type=QubitReferenceType.PHYSICAL)
    text = circuit.to_ir(IRType.OPENQASM, serialization_properties=physical).source
    assert "$3" in text
    program = read_program(text, LIMITS)
    assert program is not None and program.dialect is Dialect.BRAKET
    assert program.circuit.num_qubits == 2
    assert same_distribution(measured_probabilities(program.circuit), braket_probabilities(circuit))


HAND_WRITTEN = """OPENQASM 3.0;
bit[2] b;
// Braket's style: no include, physical qubits, its own gate names
x $3;
cnot $3, $0;
phaseshift(0.3) $0;
gpi2(0.25) $3;
gpi2(-0.25) $3;
b[0] = measure $0;
b[1] = measure $3;
"""


def test_physical_qubits_written_by_hand() -> None:
    program = read_program(HAND_WRITTEN, LIMITS)
    assert program is not None and program.dialect is Dialect.BRAKET
    expected = Circuit().x(3).cnot(3, 0).phaseshift(0, 0.3).gpi2(3, 0.25).gpi2(3, -0.25)
    probabilities = measured_probabilities(program.circuit)
    assert same_distribution(probabilities, braket_probabilities(expected))
    (counts, _, _, _, *_), _ = run_program(HAND_WRITTEN, 500, 3, LIMITS, 1024)
    counts_agree(counts, probabilities)
    # $3 then $0, whatever order they appear in: only $0 flipped, $3 left as it was.
    flipped = "OPENQASM 3.0;\nbit[2] b;\nx $0;\nb[0] = measure $3;\nb[1] = measure $0;\n"
    assert run_program(flipped, 100, 1, LIMITS, 1024)[0][0] == {"10": 100}


# --- Refusals point into what the client sent --------------------------------------------------


def where(text: str, snippet: str) -> tuple[int, int]:
    """The 1-based line and column of the last occurrence of the snippet in the text."""
    start = text.rindex(snippet)
    return text.count("\n", 0, start) + 1, start - text.rfind("\n", 0, start)


NOISE = "OPENQASM 3.0;\nbit[1] b;\nqubit[1] q;\nh q[0];\n#pragma braket noise bit_flip(0.1) q[0]\n"
PRAGMAS = [
    (Circuit().h(0).probability(target=[0]).to_ir(IRType.OPENQASM).source, "result probability"),
    (NOISE + "b[0] = measure q[0];\n", "noise bit_flip"),
    (
        Circuit()
        .add_verbatim_box(Circuit().h(0).cnot(0, 1))
        .to_ir(
            IRType.OPENQASM,
            serialization_properties=OpenQASMSerializationProperties(
                qubit_reference_type=QubitReferenceType.PHYSICAL
            ),
        )
        .source,
        "verbatim",
    ),
]


@pytest.mark.parametrize(("text", "pragma"), PRAGMAS, ids=["result", "noise", "verbatim"])
def test_braket_pragmas_are_refused_by_name_at_their_line(text: str, pragma: str) -> None:
    with pytest.raises(ProgramError) as caught:
        read_program(text, LIMITS)
    assert f"#pragma braket {pragma}" in caught.value.message
    assert (caught.value.line, caught.value.column) == where(text, "#pragma")
    assert caught.value.code == "invalid_program"


ERRORS = [
    ("OPENQASM 3.0;\nbit[2] b;\nqubit[2] q;\ncnot q[0], q[1];\nxx(0.3) q[0] q[1];\n", "q[1];\n"),
    ("OPENQASM 3.0;\nbit[2] b;\ncnot $0, $3;\nxx(0.3) $0, $3 + ;\nb[0] = measure $0;\n", "+"),
    ("OPENQASM 3.0;\nqubit[2] q;\nh q[0];\n   foo q[0], q[1];\n", "foo"),
    ("\n\n// written by hand\nOPENQASM 3.0;\nqubit[2] q;\n\ncnot q[0], q[1]);\n", ");"),
    ("/* a\n b */ OPENQASM 3.0; qubit[2] q; ms(0.1, 0.2, 0.3) q[0], q[1] +;\n", "+"),
    ("OPENQASM 3.0; qubit[2] q; cnot q[0] q[1];\n", "q[1]"),
    ("OPENQASM 3.0;\nqubit[2] q;\nfor int i in [0:1] { v q[i]; }\ncnot q[0], q[1] q;\n", "q;"),
]


@pytest.mark.parametrize(("text", "snippet"), ERRORS)
def test_an_error_points_at_the_original_line_and_column(text: str, snippet: str) -> None:
    with pytest.raises(ProgramError) as caught:
        read_program(text, LIMITS)
    assert (caught.value.line, caught.value.column) == where(text, snippet), caught.value
    assert "Braket" in caught.value.message


def test_a_leading_comment_changes_nothing_on_either_path() -> None:
    text = "// from Braket\n" + sdk_circuits()[0].to_ir(IRType.OPENQASM).source
    program = read_program(text, LIMITS, fast_only=True)
    assert program is not None and program.dialect is Dialect.BRAKET
    expected = braket_probabilities(sdk_circuits()[0])
    assert same_distribution(measured_probabilities(program.circuit), expected)
    reference = qasm3.reference_parse(translated(text, for_rust=False)[0])
    assert same_distribution(measured_probabilities(reference), expected)
