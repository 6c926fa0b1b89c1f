"""OpenQASM 3: Qiskit's Rust parser first, the reference grammar after, pyqasm last.

Qiskit's Rust parser (``qasm3.loads_experimental``) is 20 to 40 times faster, but handles only
part of the language (no loops, no modifiers, ``gate`` definitions only through constructors:
see :mod:`programs.exported` and :mod:`programs.braket`) and reads ``include`` paths from disk,
so it only ever sees programs whose every ``include`` is the standard gate library, and whose
qubit registers are literal sizes within the limit (it builds them before anything can count).

Anything it refuses goes to the reference ANTLR grammar (``openqasm3``): the tree is checked
(only the standard ``include``; qubits and operations priced by :mod:`programs.cost`, so that no
bomb reaches a converter) and converted by ``qiskit_qasm3_import``. What that converter does not
support (constants, subroutines, classical integers and loops over them, ``if (c == 1)`` on a
bit...) is unrolled by pyqasm, an OpenQASM 3 semantic analyser, into plain gates, which are read
again. When neither takes it, the converter's error says which construct is not supported, where.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import threading
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

from antlr4 import CommonTokenStream, InputStream
from antlr4.error.ErrorListener import ErrorListener
from openqasm3 import ast
from openqasm3._antlr.qasm3Lexer import qasm3Lexer
from openqasm3._antlr.qasm3Parser import qasm3Parser
from openqasm3.parser import QASMNodeVisitor
from openqasm3.visitor import QASMVisitor
from qiskit import QuantumCircuit, qasm3
from qiskit.exceptions import ExperimentalWarning
from qiskit_qasm3_import import convert

from programs import cost
from programs.errors import ProgramError
from programs.exported import rust_form
from programs.limits import Limits, check_operations, check_qubits

STANDARD_INCLUDE = "stdgates.inc"
_POSITION = re.compile(r"^(\d+),(\d+): (.*)$", re.DOTALL)
_STANDARD_INCLUDE_STATEMENT = re.compile(r'include\s*"stdgates\.inc"\s*;')
_QUBITS = re.compile(r"\bqubit\s*(?:\[([^\]]*)\])?\s*[A-Za-z_]\w*\s*;")
_OUTPUT = threading.Lock()


class _Raise(ErrorListener):
    def syntaxError(
        self, recognizer: Any, offendingSymbol: Any, line: int, column: int, msg: str, e: Any
    ) -> None:
        raise ProgramError(msg, line, column + 1)


def tree(text: str) -> ast.Program:
    """The reference grammar's syntax tree, or :class:`ProgramError` saying where it stopped."""
    lexer = qasm3Lexer(InputStream(text))
    lexer.removeErrorListeners()
    lexer.addErrorListener(_Raise())
    parser = qasm3Parser(CommonTokenStream(lexer))
    parser.removeErrorListeners()
    parser.addErrorListener(_Raise())
    try:
        return QASMNodeVisitor().visitProgram(parser.program())
    except RecursionError:
        raise ProgramError("the program is nested too deeply") from None


def _check_includes(program: ast.Program) -> None:
    for statement in program.statements:
        if isinstance(statement, ast.Include) and statement.filename != STANDARD_INCLUDE:
            span = statement.span
            raise ProgramError(
                f'include "{statement.filename}" is not allowed; only "{STANDARD_INCLUDE}" is',
                span.start_line if span else None,
                span.start_column + 1 if span else None,
            )


def only_standard_includes(text: str) -> bool:
    """Whether every occurrence of the word ``include`` anywhere in the text (comments too) is
    an ``include "stdgates.inc";`` statement: then no parser can be made to open a file."""
    return text.count("include") == len(_STANDARD_INCLUDE_STATEMENT.findall(text))


def literal_qubits(text: str) -> int | None:
    """Qubits the program declares, when every register has a literal size (None otherwise,
    or when a declaration is written in a way this does not see)."""
    sizes = _QUBITS.findall(text)
    if text.count("qubit") != len(sizes):
        return None
    total = 0
    for size in sizes:
        if size and not size.strip().isdigit():
            return None
        total += int(size) if size else 1
    return total


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


def rust_parse(
    source: str, limits: Limits | None, custom_gates: Sequence[object] | None = None
) -> QuantumCircuit | None:
    """The program through the Rust parser, or None when it refuses it (or must not see it:
    an ``include`` other than the standard one, registers it would build over the limit)."""
    if not only_standard_includes(source):
        return None
    qubits = literal_qubits(source)
    if qubits is None or (limits is not None and qubits > limits.max_qubits):
        return None
    try:
        with warnings.catch_warnings(), _output_dropped():
            warnings.simplefilter("ignore", ExperimentalWarning)
            return qasm3.loads_experimental(source, custom_gates=custom_gates, include_path=())
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException:  # any refusal, a panic in the extension too (pyo3's PanicException)
        return None


def fast_parse(text: str, limits: Limits | None = None) -> QuantumCircuit | None:
    """A standard OpenQASM 3 program through the Rust parser, when it can read it with the same
    meaning (Qiskit's exported definitions through their constructors), or None."""
    readable = rust_form(text)
    if readable is None:
        return None
    source, defined = readable
    gates = (*qasm3.STDGATES_INC_GATES, *defined) if defined else None
    return rust_parse(source, limits, gates)


def _converter_error(exc: Exception) -> ProgramError:
    message = str(exc) or type(exc).__name__
    match = _POSITION.match(message)
    if match:
        return ProgramError(match[3], int(match[1]), int(match[2]) + 1)
    return ProgramError(message)


#: ``stdgates.inc`` names pyqasm 1.3 does not know, and the same gates by the names it does.
_PYQASM_ALIASES = {"phase": "p", "cphase": "cp"}
#: Where pyqasm's messages start quoting the syntax tree (of no use to a client).
_TREE_DUMP = re.compile(r"\s*(?:Usage:|Error at line|\w+\(span=)")


class _Aliases(QASMVisitor[None]):
    def __init__(self, defined: set[str]) -> None:
        self.defined = defined

    def visit_QuantumGate(self, node: ast.QuantumGate, context: None = None) -> None:
        alias = _PYQASM_ALIASES.get(node.name.name)
        if alias is not None and node.name.name not in self.defined:
            node.name = ast.Identifier(alias)
        self.generic_visit(node, context)


def _for_pyqasm(program: ast.Program) -> ast.Program:
    """The tree as pyqasm 1.3 reads it: the version statement it requires (the language makes
    it optional) and ``phase``/``cphase`` by the names it knows. Changes the tree in place."""
    defined = {s.name.name for s in program.statements if isinstance(s, ast.QuantumGateDefinition)}
    _Aliases(defined).visit(program)
    program.version = program.version or "3.0"
    return program


def _unrolled(program: ast.Program, limits: Limits | None) -> QuantumCircuit | str:
    """The program as pyqasm unrolls it (constants folded, subroutines and loops expanded,
    conditions on a bit made explicit), read again; or why pyqasm could not (its own log
    lines, which repeat the reason with the program's text, are dropped)."""
    import pyqasm

    quiet = logging.getLogger("pyqasm")
    quiet.propagate = False
    if not quiet.handlers:
        quiet.addHandler(logging.NullHandler())

    try:
        module = pyqasm.loads(_for_pyqasm(program))
        module.unroll()
        plain = pyqasm.dumps(module)
    except (KeyboardInterrupt, SystemExit, MemoryError):
        raise
    except Exception as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        return _TREE_DUMP.split(reason)[0][:200].rstrip(" :")
    circuit = fast_parse(plain, limits)
    if circuit is None:
        try:
            circuit = convert(tree(plain))
        except Exception as exc:
            return str(exc) or type(exc).__name__
    return circuit


class _Whiles(QASMVisitor[None]):
    def __init__(self) -> None:
        self.found = False

    def visit_WhileLoop(self, node: ast.WhileLoop) -> None:
        self.found = True


def _has_while(program: ast.Program) -> bool:
    """Whether the program has a ``while`` loop: pyqasm unrolls one whose condition it can
    compute, as many times as it runs (forever for ``while (true)``), while the program is
    priced at one pass; so such a program is never given to pyqasm."""
    finder = _Whiles()
    try:
        finder.visit(program)
    except RecursionError:
        return True
    return finder.found


def misbound(program: ast.Program) -> ast.QuantumGateDefinition | None:
    """A gate definition whose parameters the converter would bind wrongly: it binds them in
    the order Qiskit sorts a circuit's parameters (by name), not as declared, so ``gate
    g(theta, phi) q`` called as ``g(1, 2) q`` would run with ``phi = 1``. Such a program is
    left to pyqasm."""
    from qiskit.circuit import Parameter

    for statement in program.statements:
        if isinstance(statement, ast.QuantumGateDefinition) and len(statement.arguments) > 1:
            names = [argument.name for argument in statement.arguments]
            circuit = QuantumCircuit(1)
            for name in dict.fromkeys(names):
                circuit.rz(Parameter(name), 0)
            if [parameter.name for parameter in circuit.parameters] != names:
                return statement
    return None


def reference_parse(text: str, limits: Limits | None = None) -> QuantumCircuit:
    """The reference grammar's reading, priced before it is built; raises ProgramError."""
    program = tree(text)
    _check_includes(program)
    if limits is not None:
        priced = cost.tree_cost(program)
        check_qubits(priced.qubits, limits)
        check_operations(priced.operations, limits)
    definition = misbound(program)
    if definition is None:
        try:
            return convert(program)
        except ProgramError:
            raise
        except RecursionError:
            raise ProgramError("the program is nested too deeply") from None
        except Exception as exc:  # the converter raises many types for what it does not support
            refusal = _converter_error(exc)
    else:
        span = definition.span
        refusal = ProgramError(
            f"gate '{definition.name.name}': parameters not in alphabetical order are not "
            "supported in this program",
            span.start_line if span else None,
            span.start_column + 1 if span else None,
        )
    if _has_while(program):
        raise refusal
    circuit = _unrolled(program, limits)
    if isinstance(circuit, str):
        message = f"{refusal.message} (pyqasm could not unroll it either: {circuit})"
        raise ProgramError(message, refusal.line, refusal.column, refusal.code)
    return circuit
