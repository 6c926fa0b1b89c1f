"""Every number a program writes, checked before a parser reads it and once it is built.

The parsers turn literals into Python numbers with ``int()`` and ``float()``: an integer of more
than 4,300 digits makes ``int()`` raise (a parser's unexpected ``ValueError``), and a float
literal past the largest double becomes infinity, which a simulator would run as an angle (a
wrong answer, not an error). So, in every language:

- :func:`check_literals` reads the program's text as a lexer would (comments and strings
  skipped) and refuses, with the line and column, an integer literal over :data:`MAX_INTEGER`
  (the service's integers are 64-bit: register sizes, indices, loop bounds, comparisons,
  physical qubits) and a float literal that is not finite;
- :func:`check_finite` refuses a circuit one of whose angles became non-finite once the
  parser folded its constants (``1e308 * 10``, ``pi * 1e308``), in gate definitions and control
  flow too;
- :func:`check_bound_finite` does the same for each point of a sweep, whose values are checked
  at the door but may still overflow in an expression (``theta * 1e300``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from programs.errors import ProgramError

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

#: The largest integer a program may write: a signed 64-bit integer.
MAX_INTEGER = 2**63 - 1
_MAX_DIGITS = len(str(MAX_INTEGER))

#: Comments and strings (skipped), and numeric literals (checked), in one pass, so that a
#: number inside a comment or a file name is never read. A literal must not follow a word
#: character or a dot (``q1``, ``x.5``) to be one.
_TOKENS = re.compile(
    r"(?P<comment>//[^\n]*|/\*.*?(?:\*/|\Z))"
    r'|(?P<string>"[^"\n]*"?)'
    r"|(?<![\w.])(?P<number>"
    r"0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+"
    r"|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d[\d_]*)?"
    r")",
    re.DOTALL,
)
_RADIX = {"x": 16, "o": 8, "b": 2}


def _where(text: str, position: int) -> tuple[int, int]:
    line = text.count("\n", 0, position) + 1
    return line, position - (text.rfind("\n", 0, position) + 1) + 1


def _shown(literal: str) -> str:
    if len(literal) <= 24:
        return literal
    return f"{literal[:10]}...{literal[-6:]} ({len(literal)} characters)"


def _integer_too_large(literal: str) -> bool:
    """Whether an integer literal (decimal, ``0x``, ``0o`` or ``0b``) is over
    :data:`MAX_INTEGER`, decided without converting a long one (``int()`` refuses more than
    4,300 digits)."""
    digits = literal.replace("_", "")
    radix = _RADIX.get(digits[1:2].lower(), 10) if digits[:1] == "0" else 10
    body = (digits[2:] if radix != 10 else digits).lstrip("0")
    if len(body) > 64:  # more digits than 2^63 - 1 has in any of the radixes
        return True
    return int(body or "0", radix) > MAX_INTEGER


def check_literals(text: str) -> None:
    """Raise :class:`ProgramError` at the first integer literal larger than
    :data:`MAX_INTEGER` or float literal that is not finite."""
    for match in _TOKENS.finditer(text):
        literal = match["number"]
        if literal is None:
            continue
        plain = literal.replace("_", "")
        is_float = plain[:2].lower() not in ("0x", "0o", "0b") and any(c in plain for c in ".eE")
        if is_float:
            if math.isfinite(float(plain)):
                continue
            line, column = _where(text, match.start("number"))
            raise ProgramError(
                f"the number {_shown(literal)} is not finite: it is beyond the largest "
                "double-precision value",
                line,
                column,
            )
        if _integer_too_large(literal):
            line, column = _where(text, match.start("number"))
            raise ProgramError(
                f"the integer {_shown(literal)} is too large: integers are at most 2^63 - 1",
                line,
                column,
            )


def _non_finite(values: Iterable[object]) -> object | None:
    """The first value that is a number (or a parameter expression without free parameters)
    and not finite."""
    from qiskit.circuit import ParameterExpression

    for value in values:
        if isinstance(value, ParameterExpression):
            if value.parameters:
                continue
            try:
                value = complex(value)
            except (TypeError, ValueError, OverflowError):
                return value
        if isinstance(value, float | complex) and not (
            math.isfinite(value.real) and math.isfinite(value.imag)
        ):
            return value
    return None


def check_finite(circuit: QuantumCircuit) -> None:
    """Raise :class:`ProgramError` when an instruction's parameter (in the circuit, its gate
    definitions and control flow, each definition looked at once) is not a finite number."""
    seen: set[int] = set()

    def walk(body: QuantumCircuit) -> None:
        for instruction in body.data:
            operation = instruction.operation
            bad = _non_finite(operation.params)
            if bad is not None:
                raise ProgramError(
                    f"{operation.name} has a parameter that is not a finite number ({bad}): "
                    "an arithmetic overflow in the program"
                )
            for block in getattr(operation, "blocks", ()):
                walk(block)
            definition = getattr(operation, "_definition", None)
            if definition is not None and id(definition) not in seen:
                seen.add(id(definition))
                walk(definition)

    walk(circuit)


def check_bound_finite(circuit: QuantumCircuit, points: Iterable[Mapping[str, float]]) -> None:
    """Raise :class:`ProgramError` when, at some point of a sweep, an angle that depends on the
    program's inputs is not a finite number."""
    from qiskit.circuit import Parameter, ParameterExpression

    expressions: dict[str, ParameterExpression] = {}

    def collect(body: QuantumCircuit) -> None:
        for instruction in body.data:
            for value in instruction.operation.params:
                # An input as it is takes its value, finite (checked at the door): only an
                # expression of inputs can overflow.
                if isinstance(value, Parameter):
                    continue
                if isinstance(value, ParameterExpression) and value.parameters:
                    expressions.setdefault(str(value), value)
            for block in getattr(instruction.operation, "blocks", ()):
                collect(block)

    collect(circuit)
    if not expressions:
        return
    for index, point in enumerate(points):
        for text, expression in expressions.items():
            values = {p: point[p.name] for p in expression.parameters if p.name in point}
            if len(values) != len(expression.parameters):
                continue
            try:
                value = complex(expression.bind(values))
            except (ZeroDivisionError, OverflowError, ValueError, TypeError) as exc:
                raise ProgramError(
                    f"point {index}: {_shown(text)} is not a finite number ({exc})"
                ) from None
            if not (math.isfinite(value.real) and math.isfinite(value.imag)):
                raise ProgramError(
                    f"point {index}: {_shown(text)} is not a finite number ({value})"
                )
