"""Whether a request is admitted: the fields beside the program that say what to compute
(parameter values, observables, outputs, method, noise), held to the task rules both the API
and the processor follow (:mod:`programs.plan`) and to this service's bounds (device snapshots,
a density matrix's or a statevector's width, a result's size) before the task is accepted."""

from __future__ import annotations

from dataclasses import dataclass

from api.errors import LimitExceeded, Refused
from api.models import TaskRequest
from programs.devices import catalog
from programs.front import Checked
from programs.plan import Plan, Refusal, plan
from runtime.settings import Settings
from schemas.events import Method, Noise, Output, result_size_bound

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


def _check_widths(request: Plan, noisy: bool, program: Checked, settings: Settings) -> None:
    """The service's bounds on what exact values take: a density matrix's width, a
    statevector's."""
    if not (request.exact or request.exact_expectations):
        return
    what = ", ".join(sorted(request.exact)) or "exact expectation values"
    dense, amplitudes, qubits = (
        settings.qc_density_matrix_max_qubits,
        settings.qc_statevector_output_max_qubits,
        program.qubits,
    )
    if request.exact_method is Method.DENSITY_MATRIX and qubits > dense:
        noise = " with noise" if noisy else ""
        message = f"{what}{noise} take a density matrix of {qubits} qubits; the limit is {dense}"
        raise LimitExceeded("method", message)
    if Output.STATEVECTOR in request.exact and qubits > amplitudes:
        raise LimitExceeded(
            "outputs",
            f"a statevector output is for circuits of at most {amplitudes} qubits "
            f"(QC_STATEVECTOR_OUTPUT_MAX_QUBITS); this one has {qubits}",
        )


def planned(
    body: TaskRequest, program: Checked, shots: int, settings: Settings, noise: Noise | None
) -> Plan:
    """The request's plan (:mod:`programs.plan`), a refusal answered 422 on its field."""
    try:
        return plan(
            program,
            shots=shots,
            parameters=body.parameters,
            observables=body.observables,
            outputs=body.outputs,
            method=body.method,
            noisy=noise is not None,
            memory=body.memory,
            max_points=settings.qc_task_max_points,
        )
    except Refusal as exc:
        raise (LimitExceeded if exc.limit else Refused)(exc.field, exc.message) from None


def checked_workload(
    body: TaskRequest, program: Checked, shots: int, settings: Settings
) -> Workload:
    """The request's parameters, observables, outputs, method and noise, checked against the
    program (its inputs, width, measurements) and against what one result may hold. Raises
    :class:`Refused` (422; :class:`LimitExceeded` for a bound)."""
    noise = Noise.model_validate(body.noise.model_dump()) if body.noise is not None else None
    _check_noise(noise, program)
    checked = planned(body, program, shots, settings, noise)
    _check_widths(checked, noise is not None, program, settings)
    points, sweep, terms, asked, sampled = (
        checked.points,
        checked.sweep,
        checked.observables,
        checked.asked,
        checked.sampled,
    )
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
    # Before compression: how small it gets on the log is known once it ran (processor's
    # fitted(), a limit_exceeded failure when it does not fit even so).
    if grows and size > settings.max_result_bytes:
        bound = (
            "QC_MAX_RECORD_BYTES"
            if settings.max_result_bytes == settings.qc_max_record_bytes
            else "QC_MAX_RESULT_BYTES, before compression"
        )
        raise LimitExceeded(
            "memory" if body.memory else "parameters" if sweep else "outputs",
            f"the result of {max(1, len(points))} point(s) takes up to {size} bytes; a result "
            f"may take at most {settings.max_result_bytes} ({bound}): ask for "
            "fewer points, shots or outputs, or no memory",
        )
    outputs = list(dict.fromkeys(body.outputs)) if body.outputs else None
    return Workload(
        points or None,
        sweep,
        terms or None,
        outputs if outputs != [Output.COUNTS] else None,
        body.method,
        noise,
    )
