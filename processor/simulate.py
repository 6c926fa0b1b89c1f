"""Pure work: turn a submission into counts with Qiskit Aer. Runs inside worker processes."""

from __future__ import annotations

import time
from functools import cache, cached_property, lru_cache
from typing import Any, NamedTuple

from qiskit import QuantumCircuit, transpile
from qiskit_aer import AerSimulator

from processor.aer import point_results, sweep_counts
from processor.backends import backend, for_device
from programs.errors import ProgramError
from programs.front import Program, check_method, measures_at_end, read_program
from programs.inline import inline_gates, operation_names
from programs.limits import Limits, check_shots
from programs.numbers import check_bound_finite
from programs.plan import Plan, Refusal, plan
from schemas.events import (
    Dialect,
    ErrorCode,
    Method,
    Noise,
    Output,
    PointResult,
    TaskSubmitted,
)


class _Shape:
    """What the plan needs of a circuit (:class:`programs.plan.Shape`); whether its
    measurements all come at the end is found only when the plan asks."""

    def __init__(self, circuit: QuantumCircuit) -> None:
        self.circuit = circuit
        self.qubits = circuit.num_qubits
        self.clbits = circuit.num_clbits
        self.inputs = {parameter.name for parameter in circuit.parameters}

    @cached_property
    def measures_at_end(self) -> bool:
        return measures_at_end(self.circuit)


def _planned(circuit: QuantumCircuit, shots: int, **request: Any) -> Plan:
    """The record's plan, held to the rules the API applied at submit (this holds records that
    reached the log another way); a refusal is the program's failure."""
    try:
        checked = plan(_Shape(circuit), shots=shots, **request)
    except Refusal as exc:
        code: ErrorCode = "limit_exceeded" if exc.limit else "invalid_program"
        raise ProgramError(exc.message, code=code) from None
    if checked.counts_without_measurements(circuit.num_clbits):
        raise ProgramError("the circuit measures nothing, so it has no counts")
    return checked


def simulator(max_memory_mb: int, threads: int) -> AerSimulator:
    """The noiseless simulator of the automatic method."""
    return backend(Method.AUTOMATIC, None, max_memory_mb, threads).simulator


@cache
def _native(backend: AerSimulator) -> frozenset[str]:
    """What the simulator runs as it is (``backend.target`` is rebuilt on every access)."""
    return frozenset(backend.target.operation_names) | {"barrier"}


def runs_natively(circuit: QuantumCircuit, backend: AerSimulator) -> bool:
    """Whether the simulator runs every operation of the circuit as it is."""
    return operation_names(circuit) <= _native(backend)


def prepare(
    circuit: QuantumCircuit, backend: AerSimulator, max_operations: int | None = None
) -> QuantumCircuit:
    """What the simulator can execute: gates it does not run inlined; transpiled only when
    something is still left over."""
    circuit = inline_gates(circuit, _native(backend), max_operations)
    if runs_natively(circuit, backend):
        return circuit
    return transpile(circuit, backend, optimization_level=0)


#: Programs at most this long are kept read by each worker (the last few of them): a
#: variational loop sends the same circuit with new parameters, again and again.
CACHED_PROGRAM_BYTES = 16 * 1024


@lru_cache(maxsize=16)
def _read_cached(qasm: str, limits_json: str) -> Program:
    program = read_program(qasm, Limits.model_validate_json(limits_json))
    assert program is not None
    return program


def _read(qasm: str, limits: Limits) -> Program:
    """The program read, from the worker's cache when it is small (its circuit is never
    changed in place: every step after this one copies what it changes)."""
    if len(qasm) > CACHED_PROGRAM_BYTES:
        program = read_program(qasm, limits)
        assert program is not None
        return program
    return _read_cached(qasm, limits.model_dump_json())


class Outcome(NamedTuple):
    """What a run gives a task's result."""

    counts: dict[str, int]
    #: Each shot's outcome, when asked.
    memory: list[str] | None
    #: The language the program was read as.
    dialect: Dialect
    #: Each point's outcome (a task with parameters, observables or exact outputs).
    results: list[PointResult] | None
    #: The method Aer reported it ran with (automatic resolved), when it ran.
    aer_method: str | None = None
    #: The device snapshot's calibration date, for a task on one.
    calibrated_at: str | None = None


class Failure(NamedTuple):
    """Why a task of a batch failed: an error code of the contract and a message."""

    code: ErrorCode
    message: str


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
    outputs: list[Output] | None = None,
    method: Method | None = None,
    noise: Noise | None = None,
) -> tuple[Outcome, Phases]:
    """Counts (and each shot's outcome when ``memory``) of one program, and when its phases
    ran: ``parse`` (parse and check the program) and ``simulate`` (prepare and run it). With
    parameters, observables or outputs beyond counts, each point's outcome too. Raises
    :class:`ProgramError` for what the program itself got wrong; any other exception is the
    simulator's (or the machine's)."""
    parse_start = time.time_ns()
    method = Method(method or Method.AUTOMATIC)
    limits = limits.for_method(method)
    program = _read(qasm, limits)
    circuit = program.circuit
    request = _planned(
        circuit,
        shots,
        # One point is written as a list of one on the record (a sweep of one is too, and is
        # never asked with memory, the one rule where the two differ).
        parameters=parameters[0] if parameters and len(parameters) == 1 else parameters,
        observables=observables,
        outputs=outputs,
        method=method,
        noisy=noise is not None,
        memory=memory,
    )
    if request.sampled:
        check_shots(shots, limits)
    check_method(circuit, method, limits.max_operations)
    check_bound_finite(circuit, parameters or ())
    simulate_start = time.time_ns()
    noise_json = noise.model_dump_json() if noise is not None else None
    chosen = backend(method, noise_json, max_memory_mb, threads)
    if chosen.device:
        inlined = inline_gates(circuit, _native(chosen.simulator), limits.max_operations)
        runnable = for_device(inlined, chosen.simulator, seed)
    else:
        runnable = prepare(circuit, chosen.simulator, limits.max_operations)
    used: list[str] = []
    if parameters or observables or request.exact:
        results, shots_memory = point_results(
            runnable,
            chosen,
            shots if request.sampled else 0,
            seed,
            parameters,
            observables,
            set(request.asked if request.sampled else request.exact),
            memory,
            used,
        )
        counts: dict[str, int] = results[0].counts or {}
    else:
        ((counts, shots_memory),) = sweep_counts(
            runnable, chosen.simulator, shots, seed, [{}], memory, used
        )
        results = None
    configured = chosen.exact.options.method
    aer_method = used[0] if used else (configured if configured != "automatic" else None)
    outcome = Outcome(
        counts, shots_memory, program.dialect, results, aer_method, chosen.calibrated_at
    )
    end = time.time_ns()
    return outcome, {"parse": (parse_start, simulate_start), "simulate": (simulate_start, end)}


#: The fields of a task's record that :func:`run_program` takes as options, by their names.
RUN_OPTIONS = ("memory", "parameters", "observables", "outputs", "method", "noise")


def run_task(
    task: TaskSubmitted, limits: Limits, max_memory_mb: int, threads: int
) -> tuple[Outcome, Phases]:
    """:func:`run_program` of a task's record: what a worker is sent."""
    options = {name: getattr(task, name) for name in RUN_OPTIONS}
    return run_program(task.qasm, task.shots, task.seed, limits, max_memory_mb, threads, **options)


#: What a worker answers for one task of a batch: its outcome and phases, or why it failed.
Answer = tuple[Outcome, Phases] | Failure


def run_tasks(
    tasks: list[TaskSubmitted], limits: Limits, max_memory_mb: int, threads: int
) -> list[Answer]:
    """Several small tasks in one hop to a worker, each with its own Aer call (its own seed,
    so each gives the counts it gives alone). A task that fails does not stop the others."""
    answers: list[Answer] = []
    for task in tasks:
        try:
            answers.append(run_task(task, limits, max_memory_mb, threads))
        except ProgramError as exc:
            answers.append(Failure(exc.code, str(exc)))
        except MemoryError:
            answers.append(Failure("out_of_memory", "the simulation ran out of memory"))
        except Exception as exc:  # the simulator's own errors are the program's outcome
            answers.append(Failure("simulation_error", str(exc) or type(exc).__name__))
    return answers
