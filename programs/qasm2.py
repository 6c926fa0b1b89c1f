"""OpenQASM 2 through Qiskit's Rust parser (``qiskit.qasm2``), with ``qelib1.inc`` built in.

This is the format of QASMBench, MQT Bench, Cirq's and pytket's exporters and
``qiskit.qasm2.dumps``. Gates are read as Qiskit's legacy exporter and importer agree on them
(``LEGACY_CUSTOM_INSTRUCTIONS``: ``qelib1.inc``'s gates and the definitions the exporter writes
for Qiskit's other standard gates become those gates). Nothing is read from disk: the only
``include`` allowed is ``qelib1.inc``, which the parser knows without a file, and the include
path is empty. The parser keeps each gate definition once, so the program is priced from the
circuit it built (:func:`programs.cost.circuit_cost`); its registers are counted from the text
before it builds them.
"""

from __future__ import annotations

import re

from qiskit import QuantumCircuit, qasm2

from programs.errors import ProgramError
from programs.limits import Limits, check_qubits

_INCLUDE = re.compile(r'include\s*"([^"\n]*)"\s*;')
_QREG = re.compile(r"\bqreg\s+[A-Za-z_]\w*\s*\[\s*(\d+)\s*\]")
_POSITION = re.compile(r"^<input>:(\d+),(\d+): (.*)$", re.DOTALL)
_COMMENT = re.compile(r"//[^\n]*")


def _line_of(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def _check_includes(text: str) -> None:
    allowed = [m for m in _INCLUDE.finditer(text) if m[1] == "qelib1.inc"]
    if text.count("include") == len(allowed):
        return
    for match in _INCLUDE.finditer(text):
        if match[1] != "qelib1.inc":
            raise ProgramError(
                f'include "{match[1]}" is not allowed; only "qelib1.inc" is',
                _line_of(text, match.start()),
                match.start() - text.rfind("\n", 0, match.start()),
            )
    raise ProgramError('only include "qelib1.inc"; is allowed')


def parse(text: str, limits: Limits | None = None) -> QuantumCircuit:
    _check_includes(text)
    if limits is not None:
        check_qubits(sum(int(n) for n in _QREG.findall(_COMMENT.sub("", text))), limits)
    try:
        return qasm2.loads(
            text,
            include_path=(),
            custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS,
            strict=False,
        )
    except qasm2.QASM2ParseError as exc:
        message = str(exc)
        match = _POSITION.match(message)
        if match:
            raise ProgramError(match[3], int(match[1]), int(match[2]) + 1) from None
        raise ProgramError(message) from None
    except RecursionError:
        raise ProgramError("the program is nested too deeply") from None
