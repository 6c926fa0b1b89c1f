"""Which language a program is in, from its text alone (no parser runs)."""

from __future__ import annotations

import re

from schemas.events import Dialect

_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)
_VERSION = re.compile(r"^\s*OPENQASM\s+(\d+)(?:\.\d+)?\s*;")
_INCLUDE = re.compile(r'\binclude\s*"[^"]*"\s*;')
_BRAKET_MARKS = re.compile(r"\$\d|#pragma\s+braket\b")
#: Gate names a Braket program may call without an include: its built-ins that are also in
#: ``stdgates.inc`` (the others are in programs.braket).
STDGATES_NAMES = frozenset(
    "p phase x y z h s sdg t tdg sx rx ry rz cx cy cz cp crx cry crz ch swap ccx cswap cu "
    "CX cphase id u1 u2 u3".split()
)


def without_comments(text: str) -> str:
    return _COMMENTS.sub(lambda m: "\n" * m[0].count("\n"), text)


def detect(text: str) -> Dialect:
    """OpenQASM 2 by its version line; Braket's OpenQASM 3 when the program includes nothing
    and calls a gate it does not define (only Braket's built-ins make that valid) or uses
    physical qubits or Braket's pragmas; standard OpenQASM 3 otherwise."""
    from programs import braket  # the table of Braket's gates; no Qiskit at import time

    code = without_comments(text)
    version = _VERSION.match(code)
    if version is not None and version[1] == "2":
        return Dialect.OPENQASM2
    if _INCLUDE.search(code):
        return Dialect.OPENQASM3
    if _BRAKET_MARKS.search(code) or braket.called_builtins(code, STDGATES_NAMES):
        return Dialect.BRAKET
    return Dialect.OPENQASM3
