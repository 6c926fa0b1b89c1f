"""Read a program of any accepted language into a circuit, priced and held to the limits.

The one entry point of the front end (:func:`read_program`), used by the API at submit (in its
parse workers, :mod:`programs.workers`) and by the processor before it simulates. Nothing here
builds a circuit larger than the limits: every path prices the program first (from its text,
its syntax tree or the linear-size circuit a Rust parser built) and refuses it with
``limit_exceeded`` before anything expands it.
"""

from __future__ import annotations

from dataclasses import dataclass

from qiskit import QuantumCircuit

from programs import braket, cost, qasm2, qasm3
from programs.detect import detect
from programs.errors import ProgramError
from programs.inline import inline_gates, operation_names
from programs.limits import Limits, check_operations, check_qubits, check_size
from programs.methods import GATES, is_clifford_angle, unsupported
from programs.numbers import check_finite, check_literals
from schemas.events import Dialect, Method


@dataclass(frozen=True)
class Program:
    circuit: QuantumCircuit
    dialect: Dialect
    #: Operations that will run: gate definitions expanded, loops unrolled.
    operations: int


@dataclass(frozen=True)
class Checked:
    """What the API keeps of a program it read (small, to cross a process boundary)."""

    dialect: Dialect
    qubits: int
    operations: int
    clbits: int
    #: The names of the program's inputs (``input float theta;``), sorted.
    inputs: tuple[str, ...] = ()
    #: No measurement is followed by anything on its qubit or bit (exact outputs and
    #: observables are defined for the state before the final measurements).
    measures_at_end: bool = True


def _shifted(exc: ProgramError, added: int) -> ProgramError:
    """An error in a program with ``added`` lines put before it, pointing into the original."""
    if exc.line is None or not added:
        return exc
    if exc.line <= added:
        return ProgramError(exc.message, code=exc.code)
    return ProgramError(exc.message, exc.line - added, exc.column, exc.code)


def _named(exc: ProgramError, dialect: Dialect) -> ProgramError:
    if exc.code != "invalid_program":
        return exc
    label = {Dialect.OPENQASM2: "OpenQASM 2", Dialect.BRAKET: "Braket OpenQASM 3"}.get(dialect)
    if label is None:
        return exc
    return ProgramError(f"{exc.message} (read as {label})", exc.line, exc.column, exc.code)


def _fast(text: str, dialect: Dialect, limits: Limits) -> QuantumCircuit | None:
    """The program through Qiskit's Rust parsers, linear in its size; None when they refuse
    it (the reference path then reads it, or says why not)."""
    if dialect is Dialect.OPENQASM2:
        return qasm2.parse(text, limits)
    if dialect is Dialect.BRAKET:
        source, custom, _ = braket.translated(text, for_rust=True)
        return qasm3.rust_parse(source, limits, custom)
    return qasm3.fast_parse(text, limits)


def _reference(text: str, dialect: Dialect, limits: Limits) -> QuantumCircuit:
    if dialect is Dialect.BRAKET:
        source, _, added = braket.translated(text, for_rust=False)
        try:
            return qasm3.reference_parse(source, limits)
        except ProgramError as exc:
            raise _shifted(exc, added) from None
    return qasm3.reference_parse(text, limits)


def check_distinct_qubits(circuit: QuantumCircuit) -> None:
    """No gate is applied to the same qubit twice (an error in both languages, which one of the
    Rust parsers lets through)."""
    for instruction in circuit.data:
        qubits = instruction.qubits
        if len(qubits) > 1 and len(set(qubits)) != len(qubits) and instruction.name != "barrier":
            indices = ", ".join(str(circuit.find_bit(q).index) for q in qubits)
            raise ProgramError(
                f"{instruction.name} is applied to the same qubit twice (qubits {indices})"
            )
        for block in getattr(instruction.operation, "blocks", ()):
            check_distinct_qubits(block)


def read_program(text: str, limits: Limits, fast_only: bool = False) -> Program | None:
    """The program's circuit, the language it was read as, and what it will run; raises
    :class:`ProgramError` (``invalid_program`` or ``limit_exceeded``) saying where and why.
    With ``fast_only``, None when only the reference path could read it."""
    check_size(text, limits)
    check_literals(text)
    dialect = detect(text)
    try:
        circuit = _fast(text, dialect, limits)
        if circuit is None:
            if fast_only:
                return None
            circuit = _reference(text, dialect, limits)
    except ProgramError as exc:
        raise _named(exc, dialect) from None
    check_qubits(circuit.num_qubits, limits)
    check_distinct_qubits(circuit)
    operations = cost.circuit_cost(circuit)
    check_operations(operations, limits)
    check_finite(circuit)
    return Program(circuit, dialect, operations)


def measures_at_end(circuit: QuantumCircuit) -> bool:
    """Whether every measurement is final: nothing after it acts on its qubit or its bit (a
    measurement inside control flow counts as not final)."""
    later: set[object] = set()
    for instruction in reversed(circuit.data):
        operation = instruction.operation
        if operation.name == "barrier":
            continue
        blocks = getattr(operation, "blocks", ())
        if any("measure" in operation_names(block) for block in blocks):
            return False
        if operation.name == "measure" and (
            later.intersection(instruction.qubits) or later.intersection(instruction.clbits)
        ):
            return False
        later.update(instruction.qubits)
        later.update(instruction.clbits)
    return True


def check_method(circuit: QuantumCircuit, method: Method, max_operations: int | None) -> None:
    """Raise ``invalid_program`` when ``method`` cannot run the circuit: the stabilizer methods
    run their own gate sets (the program's gates expanded, then transpiled to the set if they
    can be), and the stabilizer's rotations only at multiples of pi/2."""
    gates = GATES.get(method)
    if gates is None:
        return
    written = unsupported(operation_names(circuit), method)
    circuit = inline_gates(circuit, gates, max_operations)
    foreign = unsupported(operation_names(circuit), method)
    named = ", ".join(sorted(written or foreign))
    if foreign:
        from qiskit import transpile
        from qiskit.circuit.library import get_standard_gate_name_mapping
        from qiskit.exceptions import QiskitError

        basis = sorted((gates | {"measure"}) & get_standard_gate_name_mapping().keys())
        try:
            circuit = transpile(circuit, basis_gates=basis, optimization_level=0)
        except QiskitError:
            raise ProgramError(
                f"method {method.value} cannot run the program's {named}: it runs "
                f"{', '.join(sorted(gates - {'delay', 'store', 'pauli'}))} only"
            ) from None
    if method is not Method.STABILIZER:
        return
    if circuit.parameters:
        raise ProgramError("method stabilizer cannot run a circuit with inputs")
    for instruction in circuit.data:
        for angle in instruction.operation.params if instruction.name == "rz" else ():
            if not is_clifford_angle(float(angle)):
                what = f"the program's {named} are" if foreign else f"rz({angle}) is"
                raise ProgramError(f"method stabilizer runs Clifford gates only: {what} not")


def check_program(
    text: str, limits: Limits, fast_only: bool = False, method: Method | None = None
) -> Checked | None:
    """:func:`read_program`, keeping only what the API needs of it; with a ``method``, also
    that the method can run it (its qubit limit is the caller's ``limits``)."""
    program = read_program(text, limits, fast_only)
    if program is None:
        return None
    circuit = program.circuit
    if method is not None:
        check_method(circuit, method, limits.max_operations)
    inputs = tuple(sorted(parameter.name for parameter in circuit.parameters))
    return Checked(
        program.dialect,
        circuit.num_qubits,
        program.operations,
        circuit.num_clbits,
        inputs,
        measures_at_end(circuit),
    )
