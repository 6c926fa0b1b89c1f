"""Programs written by Qiskit's own exporter (``qasm3.dumps``), made readable by the Rust parser.

The exporter writes a ``gate`` definition for every Qiskit standard gate that ``stdgates.inc``
lacks (``rzz``, ``cs``, ``rccx``, ...) and writes Qiskit's ``UGate`` as the built-in ``U``. The
Rust parser takes neither on its own: a defined gate needs a constructor given to it by name (it
then builds the gate with it and ignores the definition's body), and it cannot convert ``U``.
:func:`rust_form` rewrites a program for it only when that keeps its meaning exactly:

- every definition is, character for character, the one this Qiskit's exporter writes for that
  gate, so the gate's constructor means the same as the body; the definitions come first, each
  after those its body uses, as the exporter orders them;
- ``U(...)`` becomes ``u3(...)``: in Qiskit both are the same matrix (``UGate`` and ``U3Gate``),
  which is what the reference parser builds;
- nothing after the definitions mentions ``gate`` (not even a comment);
- the program does not use ``id`` (see ``_IDENTITY``).

Anything else is left to the reference parser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import numpy as np
from qiskit import QuantumCircuit, qasm3
from qiskit.circuit import Gate
from qiskit.circuit.library import get_standard_gate_name_mapping
from qiskit.qasm3 import CustomGate
from qiskit.quantum_info import Operator

#: One definition as the exporter lays it out: a head line, two-space indented body lines, "}".
_DEFINITION = re.compile(r"gate (\w+)[^{\n]*\{\n(?:  [^\n]*\n)*\}\n")
_HEADER = re.compile(r'OPENQASM 3\.0;\ninclude "stdgates\.inc";\n')
_GATE_KEYWORD = re.compile(r"\bgate\b")
_BUILTIN_U = re.compile(r"\bU(?=\s*\()")
_BODY_GATE = re.compile(r"^  (\w+)", re.MULTILINE)
#: ``id``: the Rust parser builds an ``IGate``, the reference a ``UGate``; the simulator may then
#: choose another method for the same circuit (stabilizer or statevector), which samples
#: other counts from the same seed.
_IDENTITY = re.compile(r"\bid\b")


@dataclass(frozen=True)
class Exported:
    """A gate the exporter defines: its definition's exact text, the other defined gates its body
    uses, and the constructor the Rust parser builds it with."""

    text: str
    uses: frozenset[str]
    constructor: CustomGate


@cache
def exported_gates() -> dict[str, Exported]:
    """What this Qiskit's exporter writes for each standard gate outside ``stdgates.inc``, learnt
    from the exporter itself (so a Qiskit upgrade cannot leave the table stale). Only the gates
    whose written body is exactly the gate, global phase included, are kept: the exporter drops
    a definition's global phase (``sxdg``, ``ecr``, ...), which changes what ``ctrl @`` means."""
    standard = get_standard_gate_name_mapping()
    included = {gate.name for gate in qasm3.STDGATES_INC_GATES}
    texts: dict[str, str] = {}
    exact: set[str] = set()
    for name, gate in standard.items():
        if name in included or not isinstance(gate, Gate) or gate.num_qubits == 0:
            continue
        circuit = QuantumCircuit(gate.num_qubits)
        params = [0.3 + 0.7 * i for i in range(len(gate.params))]
        circuit.append(type(gate)(*params), range(gate.num_qubits))
        program = qasm3.dumps(circuit)
        for match in _DEFINITION.finditer(program):
            texts[match[1]] = match[0]
        if np.allclose(Operator(qasm3.loads(program)).data, Operator(circuit).data):
            exact.add(name)
    return {
        name: Exported(
            texts[name],
            frozenset(_BODY_GATE.findall(texts[name])) & texts.keys() - {name},
            CustomGate(
                type(standard[name]), name, len(standard[name].params), standard[name].num_qubits
            ),
        )
        for name in exact & texts.keys()
    }


def rust_form(text: str) -> tuple[str, list[CustomGate]] | None:
    """The program as the Rust parser can read it with the same meaning, and the constructors of
    the gates it defines; None when that cannot be done safely."""
    if _IDENTITY.search(text) is not None:
        return None
    if _GATE_KEYWORD.search(text) is None and _BUILTIN_U.search(text) is None:
        return text, []
    header = _HEADER.match(text)
    if header is None:
        return None
    known = exported_gates()
    position, defined, constructors = header.end(), set[str](), []
    while (match := _DEFINITION.match(text, position)) is not None:
        exported = known.get(match[1])
        if (
            exported is None
            or exported.text != match[0]
            or match[1] in defined
            or not exported.uses <= defined
        ):
            return None
        defined.add(match[1])
        constructors.append(exported.constructor)
        position = match.end()
    rest = text[position:]
    if _GATE_KEYWORD.search(rest) is not None:
        return None
    return text[:position] + _BUILTIN_U.sub("u3", rest), constructors
