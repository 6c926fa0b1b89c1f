"""The fields beside the program that say what to compute: parameter values (one point or a
sweep) and observables, checked against what the program declares before it is accepted."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from api.errors import LimitExceeded, Refused
from api.models import TaskRequest
from programs.devices import catalog
from programs.front import Checked
from programs.methods import EXACT_EXPECTATIONS, EXACT_OUTPUTS, exact_method
from runtime.settings import Settings
from schemas.events import Method, Noise, Output, result_size_bound

_PAULI = re.compile(r"^[IXYZ]+$")
#: Bytes one expectation value and its standard error take in a result, at most.
OBSERVABLE_BYTES = 64
#: Bytes one amplitude takes in a result ("[re, im]" as JSON), at most.
AMPLITUDE_BYTES = 50


@dataclass(frozen=True)
class Workload:
    points: list[dict[str, float]] | None
    sweep: bool
    observables: list[dict[str, float]] | None
    outputs: list[Output] | None = None
    method: Method | None = None
    noise: Noise | None = None


def observables_of(raw: Sequence[str | dict[str, float]] | None) -> list[dict[str, float]]:
    """Each observable as Pauli strings to coefficients; 422 for a malformed one."""
    out: list[dict[str, float]] = []
    for index, item in enumerate(raw or []):
        terms = {item: 1.0} if isinstance(item, str) else dict(item)
        if not terms:
            raise Refused("observables", f"observable {index} has no Pauli string")
        lengths = {len(label) for label in terms}
        for label in terms:
            if not _PAULI.match(label):
                raise Refused(
                    "observables",
                    f"observable {index}: '{label}' is not a Pauli string (I, X, Y and Z only)",
                )
        if len(lengths) > 1:
            raise Refused("observables", f"observable {index}: its Pauli strings differ in length")
        out.append({label: float(c) for label, c in terms.items()})
    return out


def _points(
    parameters: dict[str, float] | list[dict[str, float]] | None, program: Checked, max_points: int
) -> tuple[list[dict[str, float]], bool]:
    """The points of the request, each giving a value to every input of the program."""
    sweep = isinstance(parameters, list)
    points = parameters if isinstance(parameters, list) else ([parameters] if parameters else [])
    inputs = set(program.inputs)
    if sweep and not points:
        raise Refused("parameters", "a sweep needs at least one point")
    if inputs and not points:
        names = ", ".join(sorted(inputs))
        raise Refused("parameters", f"the program has inputs ({names}): give their values")
    if len(points) > max_points:
        raise LimitExceeded(
            "parameters", f"a sweep has at most {max_points} points (QC_TASK_MAX_POINTS)"
        )
    for index, point in enumerate(points):
        where = f"point {index}: " if sweep else ""
        if unknown := set(point) - inputs:
            raise Refused("parameters", f"{where}no input named {', '.join(sorted(unknown))}")
        if missing := inputs - set(point):
            raise Refused("parameters", f"{where}no value for {', '.join(sorted(missing))}")
    return points, sweep


def _check_noise(noise: Noise | None, program: Checked) -> None:
    if noise is None or noise.device is None:
        return
    device = catalog().get(noise.device)
    if device is None:
        raise Refused(
            "noise", f"no device snapshot named '{noise.device}' (GET /devices lists them)"
        )
    if program.qubits > device.qubits:
        raise LimitExceeded(
            "noise",
            f"the circuit uses {program.qubits} qubits; {device.name} has {device.qubits}",
        )


def _check_exact(
    outputs: set[Output],
    exact_expectations: bool,
    method: Method,
    noise: Noise | None,
    program: Checked,
    settings: Settings,
) -> None:
    """Exact outputs and exact expectation values: what the method (a density matrix, with
    noise) can compute, for the state before the final measurements."""
    exact = outputs - {Output.COUNTS}
    if not (exact or exact_expectations):
        return
    what = ", ".join(sorted(exact)) or "exact expectation values"
    if not program.measures_at_end:
        raise Refused("outputs", f"{what} need a circuit whose measurements all come at the end")
    if noise is not None and Output.STATEVECTOR in exact:
        raise Refused("outputs", "a noisy state has no statevector: ask for probabilities")
    if noise is not None and method not in (Method.AUTOMATIC, Method.DENSITY_MATRIX):
        raise Refused(
            "method",
            f"{what} with noise are computed on a density matrix: use method automatic or "
            f"density_matrix, not {method.value}",
        )
    used = exact_method(method, noise is not None)
    if unable := exact - EXACT_OUTPUTS[used]:
        names = ", ".join(sorted(unable))
        raise Refused("outputs", f"method {used.value} does not compute {names}")
    if exact_expectations and used not in EXACT_EXPECTATIONS:
        raise Refused("method", f"method {used.value} has no exact expectation values")
    if used is Method.DENSITY_MATRIX and program.qubits > settings.qc_density_matrix_max_qubits:
        raise LimitExceeded(
            "method",
            f"{what}{' with noise' if noise else ''} take a density matrix of "
            f"{program.qubits} qubits; the limit is {settings.qc_density_matrix_max_qubits}",
        )
    if Output.PROBABILITIES in exact and not program.clbits:
        raise Refused(
            "outputs", "probabilities are of the measured bits: the circuit measures nothing"
        )
    if Output.STATEVECTOR in exact and program.qubits > settings.qc_statevector_output_max_qubits:
        raise LimitExceeded(
            "outputs",
            f"a statevector output is for circuits of at most "
            f"{settings.qc_statevector_output_max_qubits} qubits "
            f"(QC_STATEVECTOR_OUTPUT_MAX_QUBITS); this one has {program.qubits}",
        )


def checked_workload(
    body: TaskRequest, program: Checked, shots: int, settings: Settings
) -> Workload:
    """The request's parameters, observables, outputs, method and noise, checked against the
    program (its inputs, width, measurements) and against what one result may hold. Raises
    :class:`Refused` (422; :class:`LimitExceeded` for a bound)."""
    points, sweep = _points(body.parameters, program, settings.qc_task_max_points)
    terms = observables_of(body.observables)
    for index, observable in enumerate(terms):
        width = len(next(iter(observable)))
        if width != program.qubits:
            raise Refused(
                "observables",
                f"observable {index} is over {width} qubits; the circuit has {program.qubits}",
            )
    outputs = list(dict.fromkeys(body.outputs)) if body.outputs else None
    asked = set(outputs or [Output.COUNTS])
    method = body.method or Method.AUTOMATIC
    noise = Noise.model_validate(body.noise.model_dump()) if body.noise is not None else None
    sampled = Output.COUNTS in asked and (outputs is not None or shots > 0 or not terms)
    if sampled and shots == 0:
        raise Refused(
            "shots",
            "0 shots asks for exact values only: give observables or outputs without counts",
        )
    if body.memory and (sweep or not sampled):
        raise Refused("memory", "each shot's outcome is kept for one point with shots only")
    _check_noise(noise, program)
    _check_exact(asked, bool(terms) and shots == 0, method, noise, program, settings)
    # Bounded here when the size is known to grow with the request (each shot kept, many
    # points, a statevector); a single point's counts that turn out too large end the task
    # failed instead, so a wide circuit with few outcomes is not refused for its worst case.
    per_point = result_size_bound(shots, program.clbits, body.memory) if sampled else 0
    per_point += len(terms) * OBSERVABLE_BYTES + 32 * len(program.inputs) + 64
    if Output.PROBABILITIES in asked:
        per_point += min(2 ** min(program.clbits, 62), 2**20) * (program.clbits + 28)
    if Output.STATEVECTOR in asked:
        per_point += 2**program.qubits * AMPLITUDE_BYTES
    size = per_point * max(1, len(points))
    grows = body.memory or sweep or Output.STATEVECTOR in asked
    if grows and size > settings.qc_max_record_bytes:
        raise LimitExceeded(
            "memory" if body.memory else "parameters" if sweep else "outputs",
            f"the result of {max(1, len(points))} point(s) takes up to {size} bytes; a result "
            f"may take at most {settings.qc_max_record_bytes} (QC_MAX_RECORD_BYTES): ask for "
            "fewer points, shots or outputs, or no memory",
        )
    return Workload(
        points or None,
        sweep,
        terms or None,
        outputs if outputs != [Output.COUNTS] else None,
        body.method,
        noise,
    )
