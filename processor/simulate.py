"""Pure work: turn a submission into counts with Qiskit Aer. Runs inside worker processes."""

from __future__ import annotations

import time
from functools import cache

from qiskit import QuantumCircuit, transpile
from qiskit.circuit import ControlFlowOp, Gate
from qiskit_aer import AerSimulator

from processor.workloads import point_results, succeeded
from programs.errors import ProgramError, limit_exceeded
from programs.front import read_program
from programs.limits import Limits, check_shots
from schemas.events import Dialect, PointResult


def _check_inputs(circuit: QuantumCircuit, parameters: list[dict[str, float]] | None) -> None:
    """Every input has a value at every point, and nothing else does (checked at submit too:
    this holds records that reached the log another way)."""
    inputs = {parameter.name for parameter in circuit.parameters}
    for point in parameters or [{}]:
        if set(point) != inputs:
            names = ", ".join(sorted(inputs ^ set(point)))
            raise ProgramError(f"the parameters do not match the program's inputs ({names})")


@cache
def simulator(max_memory_mb: int, threads: int) -> AerSimulator:
    return AerSimulator(max_memory_mb=max_memory_mb, max_parallel_threads=threads)


def _is_custom(operation: object) -> bool:
    """A gate the program defined itself (``gate name ... { ... }``) and the reference parser
    built from its body.

    Its name may match a gate the simulator runs natively (a program may define its own ``rzz``
    or ``ecr``), so it is always replaced by its definition, never executed by name.
    """
    return type(operation) is Gate and operation.definition is not None


def _replaced(operation: object, native: frozenset[str]) -> bool:
    """Whether an operation is replaced by its definition: a program-defined gate, or a Qiskit
    gate the simulator does not run (``cs``, ``rccx``, ...; the definition is exact, and far
    cheaper to apply than a transpile)."""
    if _is_custom(operation):
        return True
    return (
        isinstance(operation, Gate)
        and operation.name not in native
        and operation.definition is not None
    )


class _Budget:
    """Instructions the inliner may still write: it never builds a circuit over the limit,
    whatever the front end priced (a second line of defence)."""

    def __init__(self, operations: int | None) -> None:
        self.left = operations

    def spend(self, count: int) -> None:
        if self.left is None:
            return
        self.left -= count
        if self.left < 0:
            raise limit_exceeded("the circuit expands to more operations than the limit")


def inline_gates(
    circuit: QuantumCircuit, native: frozenset[str], max_operations: int | None = None
) -> QuantumCircuit:
    """Replace every program-defined gate, and every gate the simulator does not run, by its
    body, recursively and inside control flow too; at most ``max_operations`` written."""
    return _inline(circuit, native, _Budget(max_operations))


def _inline(circuit: QuantumCircuit, native: frozenset[str], budget: _Budget) -> QuantumCircuit:
    if not any(
        _replaced(i.operation, native) or isinstance(i.operation, ControlFlowOp)
        for i in circuit.data
    ):
        budget.spend(len(circuit.data))
        return circuit
    out = circuit.copy_empty_like()
    for instruction in circuit.data:
        operation = instruction.operation
        if _replaced(operation, native):
            body = _inline(operation.definition, native, budget)
            out.compose(body, qubits=instruction.qubits, inplace=True)
        elif isinstance(operation, ControlFlowOp):
            blocks = [_inline(block, native, budget) for block in operation.blocks]
            out.append(operation.replace_blocks(blocks), instruction.qubits, instruction.clbits)
        else:
            budget.spend(1)
            out.append(instruction)
    return out


def _operation_names(circuit: QuantumCircuit) -> set[str]:
    names: set[str] = set()
    for instruction in circuit.data:
        names.add(instruction.operation.name)
        if isinstance(instruction.operation, ControlFlowOp):
            for block in instruction.operation.blocks:
                names |= _operation_names(block)
    return names


@cache
def _native(backend: AerSimulator) -> frozenset[str]:
    """What the simulator runs as it is (``backend.target`` is rebuilt on every access)."""
    return frozenset(backend.target.operation_names) | {"barrier"}


def runs_natively(circuit: QuantumCircuit, backend: AerSimulator) -> bool:
    """Whether the simulator runs every operation of the circuit as it is."""
    return _operation_names(circuit) <= _native(backend)


def prepare(
    circuit: QuantumCircuit, backend: AerSimulator, max_operations: int | None = None
) -> QuantumCircuit:
    """What the simulator can execute: gates it does not run inlined; transpiled only when
    something is still left over."""
    circuit = inline_gates(circuit, _native(backend), max_operations)
    if runs_natively(circuit, backend):
        return circuit
    return transpile(circuit, backend, optimization_level=0)


#: Counts, each shot's outcome (when asked), the language the program was read as, and each
#: point's outcome (a task with parameters or observables; None otherwise).
Outcome = tuple[dict[str, int], list[str] | None, Dialect, list[PointResult] | None]
#: When each phase of a run began and ended (``time.time_ns()``), for the processor's spans.
Phases = dict[str, tuple[int, int]]


def run_program(
    qasm: str,
    shots: int,
    seed: int,
    limits: Limits,
    max_memory_mb: int,
    threads: int = 1,
    memory: bool = False,
    parameters: list[dict[str, float]] | None = None,
    observables: list[dict[str, float]] | None = None,
) -> tuple[Outcome, Phases]:
    """Counts (and each shot's outcome when ``memory``) of one program, and when its phases
    ran: ``parse`` (parse and check the program) and ``simulate`` (prepare and run it). Raises
    :class:`ProgramError` for what the program itself got wrong; any other exception is the
    simulator's (or the machine's)."""
    parse_start = time.time_ns()
    if shots or not observables:
        check_shots(shots, limits)
    program = read_program(qasm, limits)
    assert program is not None
    circuit = program.circuit
    if not circuit.num_clbits and not observables:
        raise ProgramError("the circuit measures nothing, so it has no counts")
    _check_inputs(circuit, parameters)
    simulate_start = time.time_ns()
    backend = simulator(max_memory_mb, threads)
    runnable = prepare(circuit, backend, limits.max_operations)
    if parameters or observables:
        results = point_results(runnable, backend, shots, seed, parameters, observables, threads)
        outcome: Outcome = results[0].counts or {}, None, program.dialect, results
    else:
        job = backend.run(runnable, shots=shots, seed_simulator=seed, memory=memory)
        result = succeeded(job.result())
        shots_memory = list(result.get_memory()) if memory else None
        outcome = dict(result.get_counts()), shots_memory, program.dialect, None
    end = time.time_ns()
    return outcome, {"parse": (parse_start, simulate_start), "simulate": (simulate_start, end)}
