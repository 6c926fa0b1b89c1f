"""OpenQASM 3 as Amazon Braket writes it, read by Qiskit's parsers.

Braket's programs include nothing: its built-in gates (``cnot``, ``phaseshift``, ``xx``,
``gpi2``...) are known by name, and they may address physical qubits (``$0``). Each built-in
gate outside ``stdgates.inc`` is given two ways here, checked against each other and against
the matrices of Braket's own SDK by tests/unit/test_braket.py:

- a constructor of the Qiskit gate with the same matrix (global phase included), for the Rust
  parser, which builds a defined gate with its constructor and ignores the body;
- an exact body in ``stdgates.inc`` gates, for the reference parser.

Braket writes its matrices with the first qubit as the most significant; Qiskit's ``Operator``
puts it last, which is why the tests compare against ``Operator(...).reverse_qargs()``. The
gates Braket shares with ``stdgates.inc`` (``h``, ``x``, ``rx``, ``cz``, ``swap``...) are the
same matrices there. ``#pragma braket`` lines (result types, noise, verbatim boxes) are refused
by name: nothing here runs them yet.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from programs.errors import ProgramError

if TYPE_CHECKING:
    from qiskit import QuantumCircuit
    from qiskit.circuit import ParameterValueType


@dataclass(frozen=True)
class BraketGate:
    params: tuple[str, ...]
    qubits: int
    #: The body in ``stdgates.inc`` gates (and gates defined before this one), exact.
    body: str
    #: Builds the Qiskit gate from the parameter values.
    build: Callable[..., object]

    def definition(self, name: str, with_body: bool = True) -> str:
        params = f"({', '.join(self.params)})" if self.params else ""
        qubits = ", ".join("abc"[: self.qubits])
        return f"gate {name}{params} {qubits} {{ {self.body if with_body else ''} }}\n"


def _defined(name: str, qubits: int, steps: Callable[..., None]) -> Callable[..., object]:
    """A constructor for a gate Qiskit has no class of: a gate with an exact definition, made
    by ``steps(circuit, *values)``."""

    def build(*values: object) -> object:
        from qiskit import QuantumCircuit
        from qiskit.circuit import Gate

        circuit = QuantumCircuit(qubits)
        steps(circuit, *values)
        gate = Gate(name, qubits, list(values))
        gate.definition = circuit
        return gate

    return build


def _phase_on(flip: tuple[int, ...]) -> Callable[..., None]:
    """A controlled phase on the basis state whose qubits in ``flip`` are 0."""

    def steps(circuit: QuantumCircuit, angle: ParameterValueType) -> None:
        for qubit in flip:
            circuit.x(qubit)
        circuit.cp(angle, 0, 1)
        for qubit in flip:
            circuit.x(qubit)

    return steps


def _pswap(circuit: QuantumCircuit, angle: ParameterValueType) -> None:
    circuit.swap(0, 1)
    circuit.p(angle, 0)
    circuit.p(angle, 1)
    circuit.cp(-2 * angle, 0, 1)


def _ms(
    circuit: QuantumCircuit,
    phi0: ParameterValueType,
    phi1: ParameterValueType,
    theta: ParameterValueType,
) -> None:
    circuit.rz(-phi0, 0)
    circuit.rz(-phi1, 1)
    circuit.rxx(theta, 0, 1)
    circuit.rz(phi0, 0)
    circuit.rz(phi1, 1)


#: The names of :func:`gates`, known without building the table (which imports Qiskit).
_NAMES = (
    "i cnot ccnot phaseshift cphaseshift cphaseshift00 cphaseshift01 cphaseshift10 si ti v vi "
    "cv xx yy zz xy pswap iswap ecr gpi gpi2 prx ms"
).split()


def _gates() -> dict[str, BraketGate]:
    from qiskit.circuit import library as lib

    def cls(gate_class: type) -> Callable[..., object]:
        return gate_class

    return {
        "i": BraketGate((), 1, "U(0, 0, 0) a;", cls(lib.IGate)),
        "cnot": BraketGate((), 2, "cx a, b;", cls(lib.CXGate)),
        "ccnot": BraketGate((), 3, "ccx a, b, c;", cls(lib.CCXGate)),
        "phaseshift": BraketGate(("l",), 1, "p(l) a;", cls(lib.PhaseGate)),
        "cphaseshift": BraketGate(("l",), 2, "cp(l) a, b;", cls(lib.CPhaseGate)),
        "cphaseshift00": BraketGate(
            ("l",),
            2,
            "x a; x b; cp(l) a, b; x a; x b;",
            _defined("cphaseshift00", 2, _phase_on((0, 1))),
        ),
        # |01>: the first qubit 0, the second 1 (Braket's order).
        "cphaseshift01": BraketGate(
            ("l",), 2, "x a; cp(l) a, b; x a;", _defined("cphaseshift01", 2, _phase_on((0,)))
        ),
        "cphaseshift10": BraketGate(
            ("l",), 2, "x b; cp(l) a, b; x b;", _defined("cphaseshift10", 2, _phase_on((1,)))
        ),
        "si": BraketGate((), 1, "sdg a;", cls(lib.SdgGate)),
        "ti": BraketGate((), 1, "tdg a;", cls(lib.TdgGate)),
        "v": BraketGate((), 1, "sx a;", cls(lib.SXGate)),
        "vi": BraketGate((), 1, "inv @ sx a;", cls(lib.SXdgGate)),  # stdgates.inc has no sxdg
        "cv": BraketGate((), 2, "h b; cp(pi/2) a, b; h b;", cls(lib.CSXGate)),
        "xx": BraketGate(
            ("t",), 2, "h a; h b; cx a, b; rz(t) b; cx a, b; h a; h b;", cls(lib.RXXGate)
        ),
        "yy": BraketGate(
            ("t",),
            2,
            "rx(pi/2) a; rx(pi/2) b; cx a, b; rz(t) b; cx a, b; rx(-pi/2) a; rx(-pi/2) b;",
            cls(lib.RYYGate),
        ),
        "zz": BraketGate(("t",), 2, "cx a, b; rz(t) b; cx a, b;", cls(lib.RZZGate)),
        # exp(i t/4 (XX + YY)): XX and YY commute.
        "xy": BraketGate(
            ("t",), 2, "xx(-t/2) a, b; yy(-t/2) a, b;", lambda t: lib.XXPlusYYGate(-t, 0)
        ),
        # SWAP times diag(1, e^it, e^it, 1).
        "pswap": BraketGate(
            ("t",),
            2,
            "swap a, b; p(t) a; p(t) b; cp(-2*t) a, b;",
            _defined("pswap", 2, _pswap),
        ),
        "iswap": BraketGate((), 2, "s a; s b; h a; cx a, b; cx b, a; h b;", cls(lib.iSwapGate)),
        "ecr": BraketGate((), 2, "gphase(-pi/4); s a; sx b; cx a, b; x a;", cls(lib.ECRGate)),
        "gpi": BraketGate(
            ("f",), 1, "U(pi, f, pi - f) a;", lambda f: lib.UGate(math.pi, f, math.pi - f)
        ),
        "gpi2": BraketGate(
            ("f",),
            1,
            "U(pi/2, f - pi/2, pi/2 - f) a;",
            lambda f: lib.UGate(math.pi / 2, f - math.pi / 2, math.pi / 2 - f),
        ),
        # Parameters named in alphabetical order: qiskit_qasm3_import binds a definition's
        # parameters in the order Qiskit sorts them (see programs.qasm3.misbound).
        "prx": BraketGate(("t", "u"), 1, "rz(-u) a; rx(t) a; rz(u) a;", cls(lib.RGate)),
        "ms": BraketGate(
            ("f0", "f1", "t"),
            2,
            "rz(-f0) a; rz(-f1) b; xx(t) a, b; rz(f0) a; rz(f1) b;",
            _defined("ms", 2, _ms),
        ),
    }


@cache
def gates() -> dict[str, BraketGate]:
    """Braket's built-in gates that ``stdgates.inc`` lacks, in an order where each body uses
    only gates before it."""
    table = _gates()
    assert list(table) == _NAMES
    return table


#: The statements of a program that may call a gate: ``name q[0];``, ``name(0.1) $0, $1;``...
_CALL = re.compile(
    r"(?:^|[;{}])\s*(?:(?:ctrl|negctrl|inv|pow)\b[^@;]*@\s*)*([A-Za-z_]\w*)\s*(?:\([^;{}]*?\))?"
    r"\s+[$A-Za-z_][^;{}=]*;",
    re.MULTILINE,
)
_DEFINED = re.compile(r"\bgate\s+([A-Za-z_]\w*)")
_PHYSICAL = re.compile(r"\$(\d+)\b")
_PRAGMA = re.compile(r"^\s*#pragma\s+braket\b[^\n]*", re.MULTILINE)
#: What may come before the version statement: white space and comments.
_LEADING = re.compile(r"(?:\s|//[^\n]*|/\*.*?\*/)*", re.DOTALL)
_HEADER = re.compile(r"OPENQASM\s+3(?:\.\d+)?\s*;")
_WORD = re.compile(r"[A-Za-z_]\w*")


def called_builtins(text: str, also: frozenset[str] = frozenset()) -> bool:
    """Whether the program calls, without defining it, one of Braket's built-ins that
    ``stdgates.inc`` lacks or one of ``also``."""
    called = {match[1] for match in _CALL.finditer(text)} - set(_DEFINED.findall(text))
    return bool(called & (set(_NAMES) | also))


def used_gates(text: str) -> list[str]:
    """Braket built-ins the program calls without defining them, and those their bodies use,
    in definition order."""
    called = {match[1] for match in _CALL.finditer(text)} - set(_DEFINED.findall(text))
    table = gates()
    # ``xy`` and ``ms`` are written with ``xx`` and ``yy``; a body uses only gates before it, so
    # one pass from the end finds them all.
    for name in reversed(table):
        if name in called:
            called |= set(_WORD.findall(table[name].body)) & table.keys()
    return [name for name in table if name in called]


def refuse_pragmas(text: str) -> None:
    match = _PRAGMA.search(text)
    if match is not None:
        line = text.count("\n", 0, match.start()) + 1
        command = match[0].strip()
        raise ProgramError(
            f"'{command}' is not supported here (Braket result types, noise and verbatim "
            "boxes are not run by this service)",
            line,
            1,
        )


def _physical(text: str) -> tuple[str, str]:
    """Physical qubits (``$3``) as qubits named as long (``_3``), so that an error's column
    still points into the original line; and their declarations, in order of their number
    (empty when there are none)."""
    numbers = sorted({int(n) for n in _PHYSICAL.findall(text)})
    rewritten = _PHYSICAL.sub(lambda m: f"_{m[1]}", text)
    return rewritten, "".join(f"qubit _{n};\n" for n in numbers)


def translated(text: str, for_rust: bool) -> tuple[str, list[object], int]:
    """The program as standard OpenQASM 3 that Qiskit's parsers read: ``stdgates.inc``
    included, the Braket built-ins it uses defined (with exact bodies, or empty ones for the
    Rust parser, which uses their constructors), physical qubits as qubits of their own. Also
    the Rust parser's custom gates, and how many lines were added before the program's own (so
    that errors point into what the client sent)."""
    refuse_pragmas(text)
    body, declaration = _physical(text)
    # The version statement (after any comments) blanked out: every line and column of the
    # program stays where it was, after the prelude's lines.
    leading = _LEADING.match(body)
    header = _HEADER.match(body, leading.end() if leading else 0)
    if header is not None:
        blank = re.sub(r"[^\n]", " ", header[0])
        body = body[: header.start()] + blank + body[header.end() :]
    names = used_gates(body)
    prelude = 'OPENQASM 3.0;\ninclude "stdgates.inc";\n'
    prelude += "".join(gates()[name].definition(name, not for_rust) for name in names)
    prelude += declaration
    custom: list[object] = []
    if for_rust:
        from qiskit import qasm3
        from qiskit.qasm3 import CustomGate

        custom = [*qasm3.STDGATES_INC_GATES]
        custom += [
            CustomGate(gates()[n].build, n, len(gates()[n].params), gates()[n].qubits)
            for n in names
        ]
    return prelude + body, custom, prelude.count("\n")
