"""OpenQASM 3 acceptance rules and limits, shared by the API (at submit) and the processor.

Two parsers, one behaviour. Qiskit's Rust parser (``qasm3.loads_experimental``) is tried first:
it is 20 to 40 times faster, but handles only part of the language (``gate`` definitions only
as Qiskit's exporter writes them, through :mod:`schemas.exported`) and reads ``include`` paths
from disk, so it only ever sees programs whose every ``include`` is the standard gate library.
Anything it refuses goes to the reference ANTLR grammar (``openqasm3``) converted with
``qiskit_qasm3_import``, which reads no files (an ``include`` is a node of the tree, and only
the standard library is let through) and whose errors say where the program went wrong. Both
give the same counts for the programs the fast one takes (tests/unit/test_parsers_agree.py).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
import warnings
from collections.abc import Iterator

from antlr4 import CommonTokenStream, InputStream
from antlr4.error.ErrorListener import ErrorListener
from openqasm3 import ast
from openqasm3._antlr.qasm3Lexer import qasm3Lexer
from openqasm3._antlr.qasm3Parser import qasm3Parser
from openqasm3.parser import QASMNodeVisitor
from pydantic import BaseModel
from qiskit import QuantumCircuit, qasm3
from qiskit.exceptions import ExperimentalWarning
from qiskit_qasm3_import import convert

from schemas.exported import rust_form

STANDARD_INCLUDE = "stdgates.inc"
_POSITION = re.compile(r"^(\d+),(\d+): (.*)$", re.DOTALL)
_STANDARD_INCLUDE_STATEMENT = re.compile(r'include\s*"stdgates\.inc"\s*;')
_OUTPUT = threading.Lock()


class Limits(BaseModel):
    max_qubits: int
    max_shots: int
    max_operations: int
    max_program_bytes: int


class ProgramError(Exception):
    """A program the service will not run. ``line`` and ``column`` are 1-based when known."""

    def __init__(
        self,
        message: str,
        line: int | None = None,
        column: int | None = None,
        code: str = "invalid_program",
    ) -> None:
        super().__init__(message, line, column, code)
        self.message, self.line, self.column, self.code = message, line, column, code

    def __str__(self) -> str:
        where = f"line {self.line}, column {self.column}: " if self.line else ""
        return where + self.message


class _Raise(ErrorListener):
    def syntaxError(self, recognizer, offendingSymbol, line, column, msg, e):
        raise ProgramError(msg, line, column + 1)


def _tree(text: str) -> ast.Program:
    lexer = qasm3Lexer(InputStream(text))
    lexer.removeErrorListeners()
    lexer.addErrorListener(_Raise())
    parser = qasm3Parser(CommonTokenStream(lexer))
    parser.removeErrorListeners()
    parser.addErrorListener(_Raise())
    return QASMNodeVisitor().visitProgram(parser.program())


def _check_includes(program: ast.Program) -> None:
    for statement in program.statements:
        if isinstance(statement, ast.Include) and statement.filename != STANDARD_INCLUDE:
            span = statement.span
            raise ProgramError(
                f'include "{statement.filename}" is not allowed; only "{STANDARD_INCLUDE}" is',
                span.start_line if span else None,
                span.start_column + 1 if span else None,
            )


def _only_standard_includes(text: str) -> bool:
    """Whether every occurrence of the word ``include`` anywhere in the text (comments too) is
    an ``include "stdgates.inc";`` statement: then no parser can be made to open a file."""
    return text.count("include") == len(_STANDARD_INCLUDE_STATEMENT.findall(text))


@contextlib.contextmanager
def _output_dropped() -> Iterator[None]:
    """The Rust parser prints the errors of a program it refuses to the process's standard
    output; the fallback parser reports them properly, so they are dropped. Holds a lock and
    points file descriptors 1 and 2 at /dev/null for the call (a few microseconds)."""
    with _OUTPUT:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = [os.dup(1), os.dup(2)]
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in (*saved, devnull):
                os.close(fd)


def _fast_parse(text: str) -> QuantumCircuit | None:
    """The program through the Rust parser, or None when it refuses it (or cannot see it)."""
    if not _only_standard_includes(text):
        return None
    readable = rust_form(text)
    if readable is None:
        return None
    source, defined = readable
    gates = (*qasm3.STDGATES_INC_GATES, *defined) if defined else None
    try:
        with warnings.catch_warnings(), _output_dropped():
            warnings.simplefilter("ignore", ExperimentalWarning)
            return qasm3.loads_experimental(source, custom_gates=gates, include_path=())
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException:  # any refusal, a panic in the extension too (pyo3's PanicException)
        return None


def parse_program(text: str, max_program_bytes: int | None = None) -> QuantumCircuit:
    """Parse and convert a program, or raise :class:`ProgramError` saying where and why."""
    if not text.strip():
        raise ProgramError("the program is empty")
    if max_program_bytes is not None and len(text.encode()) > max_program_bytes:
        raise ProgramError(
            f"the program is {len(text.encode())} bytes; the limit is {max_program_bytes}",
            code="limit_exceeded",
        )
    circuit = _fast_parse(text)
    if circuit is not None:
        return circuit
    return _reference_parse(text)


def _reference_parse(text: str) -> QuantumCircuit:
    try:
        program = _tree(text)
        _check_includes(program)
        return convert(program)
    except ProgramError:
        raise
    except RecursionError:
        raise ProgramError("the program is nested too deeply") from None
    except Exception as exc:  # the parser and converter raise many types for bad programs
        message = str(exc) or type(exc).__name__
        match = _POSITION.match(message)
        if match:
            line, column, message = int(match[1]), int(match[2]) + 1, match[3]
            raise ProgramError(message, line, column) from None
        raise ProgramError(message) from None


def check_limits(circuit: QuantumCircuit, shots: int, limits: Limits) -> None:
    """Raise :class:`ProgramError` (code ``limit_exceeded``) when a task is over a guardrail."""
    if shots < 1 or shots > limits.max_shots:
        raise ProgramError(f"shots must be between 1 and {limits.max_shots}", code="limit_exceeded")
    if circuit.num_qubits > limits.max_qubits:
        raise ProgramError(
            f"the circuit uses {circuit.num_qubits} qubits; the limit is {limits.max_qubits}",
            code="limit_exceeded",
        )
    if circuit.size() > limits.max_operations:
        raise ProgramError(
            f"the circuit has {circuit.size()} operations; the limit is {limits.max_operations}",
            code="limit_exceeded",
        )
