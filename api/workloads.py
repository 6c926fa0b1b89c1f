"""The fields beside the program that say what to compute: parameter values (one point or a
sweep) and observables, checked against what the program declares before it is accepted."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from api.errors import LimitExceeded
from programs.front import Checked
from schemas.events import result_size_bound

_PAULI = re.compile(r"^[IXYZ]+$")
#: Bytes one expectation value and its standard error take in a result, at most.
OBSERVABLE_BYTES = 64


@dataclass(frozen=True)
class Workload:
    points: list[dict[str, float]] | None
    sweep: bool
    observables: list[dict[str, float]] | None


def observables_of(raw: Sequence[str | dict[str, float]] | None) -> list[dict[str, float]]:
    """Each observable as Pauli strings to coefficients; 422 for a malformed one."""
    out: list[dict[str, float]] = []
    for index, item in enumerate(raw or []):
        terms = {item: 1.0} if isinstance(item, str) else dict(item)
        if not terms:
            raise LimitExceeded("observables", f"observable {index} has no Pauli string")
        lengths = {len(label) for label in terms}
        for label in terms:
            if not _PAULI.match(label):
                raise LimitExceeded(
                    "observables",
                    f"observable {index}: '{label}' is not a Pauli string (I, X, Y and Z only)",
                )
        if len(lengths) > 1:
            raise LimitExceeded(
                "observables", f"observable {index}: its Pauli strings differ in length"
            )
        out.append({label: float(c) for label, c in terms.items()})
    return out


def checked_workload(
    parameters: dict[str, float] | list[dict[str, float]] | None,
    observables: Sequence[str | dict[str, float]] | None,
    program: Checked,
    shots: int,
    memory: bool,
    max_points: int,
    max_record_bytes: int,
) -> Workload:
    """The request's parameters and observables, checked against the program (its inputs, its
    width) and against what one result may hold. Raises :class:`LimitExceeded` (422)."""
    sweep = isinstance(parameters, list)
    points = parameters if isinstance(parameters, list) else ([parameters] if parameters else [])
    inputs = set(program.inputs)
    if sweep and not points:
        raise LimitExceeded("parameters", "a sweep needs at least one point")
    if inputs and not points:
        names = ", ".join(sorted(inputs))
        raise LimitExceeded("parameters", f"the program has inputs ({names}): give their values")
    if len(points) > max_points:
        raise LimitExceeded(
            "parameters", f"a sweep has at most {max_points} points (QC_TASK_MAX_POINTS)"
        )
    for index, point in enumerate(points):
        where = f"point {index}: " if sweep else ""
        if unknown := set(point) - inputs:
            raise LimitExceeded("parameters", f"{where}no input named {', '.join(sorted(unknown))}")
        if missing := inputs - set(point):
            raise LimitExceeded("parameters", f"{where}no value for {', '.join(sorted(missing))}")
    terms = observables_of(observables)
    for index, observable in enumerate(terms):
        width = len(next(iter(observable)))
        if width != program.qubits:
            raise LimitExceeded(
                "observables",
                f"observable {index} is over {width} qubits; the circuit has {program.qubits}",
            )
    if shots == 0 and not terms:
        raise LimitExceeded("shots", "0 shots asks for exact expectation values: give observables")
    if memory and (sweep or shots == 0):
        raise LimitExceeded("memory", "each shot's outcome is kept for one point with shots only")
    # Bounded here when the size is known to grow with the request (each shot kept, or many
    # points); a single point's counts that turn out too large end the task failed instead,
    # so a wide circuit with few outcomes is not refused for its worst case.
    per_point = result_size_bound(shots, program.clbits, memory) if shots else 0
    per_point += len(terms) * OBSERVABLE_BYTES + 32 * len(inputs) + 64
    size = per_point * max(1, len(points))
    if (memory or sweep) and size > max_record_bytes:
        raise LimitExceeded(
            "memory" if memory else "parameters",
            f"the result of {max(1, len(points))} point(s) of {shots} shots of "
            f"{program.clbits} bits takes up to {size} bytes; a result may take at most "
            f"{max_record_bytes} (QC_MAX_RECORD_BYTES): ask for fewer points or shots, or no "
            "memory",
        )
    return Workload(points or None, sweep, terms or None)
