"""What a request will run, decided in one place: its points, its observables, what is sampled
and what is computed exactly, and what the program must measure for that.

The API plans a request before it accepts it (a :class:`Refusal` is a 422 on the field it
names) and the processor plans the record again before it simulates (a record can reach the
log another way: a replay with other settings, an older writer), where a refusal ends the task
``failed``. Both therefore hold a request to the same rules, in the same words. The bounds that
depend on the service's settings (a result's size, a density matrix's width) are the API's;
how heavy a task is for the scheduler is :mod:`programs.weight`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from programs.methods import EXACT_EXPECTATIONS, EXACT_OUTPUTS, exact_method
from schemas.events import Method, Output

_PAULI = re.compile(r"^[IXYZ]+$")

Point = dict[str, float]
Observable = dict[str, float]


class Refusal(Exception):
    """A request the program cannot serve as asked: the request's ``field`` at fault, why,
    and whether a bound was passed (``limit``) rather than a rule broken."""

    def __init__(self, field: str, message: str, limit: bool = False) -> None:
        super().__init__(message)
        self.field, self.message, self.limit = field, message, limit


class Shape(Protocol):
    """What the plan needs to know of a program: the API's reading of it
    (:class:`programs.front.Checked`) or, in the processor, the circuit itself."""

    @property
    def qubits(self) -> int: ...
    @property
    def clbits(self) -> int: ...
    @property
    def inputs(self) -> Collection[str]: ...
    @property
    def measures_at_end(self) -> bool: ...


@dataclass(frozen=True)
class Plan:
    """What a checked request runs."""

    #: The points, each giving a value to every input; empty for a program without inputs.
    points: list[Point]
    #: The request gave a list of points (answered per point even when it holds one).
    sweep: bool
    observables: list[Observable]
    #: The outputs asked (counts when none were named).
    asked: frozenset[Output]
    #: Counts are drawn from shots.
    sampled: bool
    #: The method asked (automatic when none was), and the one exact values are computed with.
    method: Method
    exact_method: Method

    @property
    def exact(self) -> frozenset[Output]:
        """The outputs computed from the state rather than sampled."""
        return self.asked - {Output.COUNTS}

    @property
    def exact_expectations(self) -> bool:
        """Expectation values computed from the state (nothing sampled to estimate them)."""
        return bool(self.observables) and not self.sampled

    def counts_without_measurements(self, clbits: int) -> bool:
        """Only counts are asked and the program measures nothing: there is nothing to count.
        The API accepts such a program and its task ends ``failed`` (as the service always
        answered it); the processor refuses it."""
        return self.sampled and not clbits and not (self.observables or self.exact)


def observables_of(raw: Sequence[str | dict[str, float]] | None) -> list[Observable]:
    """Each observable as Pauli strings to coefficients."""
    out: list[Observable] = []
    for index, item in enumerate(raw or []):
        terms = {item: 1.0} if isinstance(item, str) else dict(item)
        if not terms:
            raise Refusal("observables", f"observable {index} has no Pauli string")
        for label in terms:
            if not _PAULI.match(label):
                raise Refusal(
                    "observables",
                    f"observable {index}: '{label}' is not a Pauli string (I, X, Y and Z only)",
                )
        if len({len(label) for label in terms}) > 1:
            raise Refusal("observables", f"observable {index}: its Pauli strings differ in length")
        out.append({label: float(c) for label, c in terms.items()})
    return out


def _points(
    parameters: Point | list[Point] | None, inputs: Collection[str], max_points: int | None
) -> tuple[list[Point], bool]:
    """The points of the request, each giving a value to every input of the program."""
    sweep = isinstance(parameters, list)
    points = parameters if isinstance(parameters, list) else ([parameters] if parameters else [])
    names = set(inputs)
    if sweep and not points:
        raise Refusal("parameters", "a sweep needs at least one point")
    if names and not points:
        raise Refusal(
            "parameters", f"the program has inputs ({', '.join(sorted(names))}): give their values"
        )
    if max_points is not None and len(points) > max_points:
        raise Refusal(
            "parameters", f"a sweep has at most {max_points} points (QC_TASK_MAX_POINTS)", True
        )
    for index, point in enumerate(points):
        where = f"point {index}: " if sweep else ""
        if unknown := set(point) - names:
            raise Refusal("parameters", f"{where}no input named {', '.join(sorted(unknown))}")
        if missing := names - set(point):
            raise Refusal("parameters", f"{where}no value for {', '.join(sorted(missing))}")
    return points, sweep


def _check_exact(plan: Plan, noisy: bool, program: Shape) -> None:
    """Exact outputs and exact expectation values: what the method (a density matrix, with
    noise) can compute, for the state before the final measurements."""
    exact = plan.exact
    if plan.observables or exact:
        what = ", ".join(sorted(exact)) or "observables"
        if not program.measures_at_end:
            raise Refusal(
                "outputs", f"{what} need a circuit whose measurements all come at the end"
            )
    if not (exact or plan.exact_expectations):
        return
    what = ", ".join(sorted(exact)) or "exact expectation values"
    if noisy and Output.STATEVECTOR in exact:
        raise Refusal("outputs", "a noisy state has no statevector: ask for probabilities")
    if noisy and plan.method not in (Method.AUTOMATIC, Method.DENSITY_MATRIX):
        raise Refusal(
            "method",
            f"{what} with noise are computed on a density matrix: use method automatic or "
            f"density_matrix, not {plan.method.value}",
        )
    if unable := exact - EXACT_OUTPUTS[plan.exact_method]:
        names = ", ".join(sorted(unable))
        raise Refusal("outputs", f"method {plan.exact_method.value} does not compute {names}")
    if plan.exact_expectations and plan.exact_method not in EXACT_EXPECTATIONS:
        raise Refusal("method", f"method {plan.exact_method.value} has no exact expectation values")
    if Output.PROBABILITIES in exact and not program.clbits:
        raise Refusal(
            "outputs", "probabilities are of the measured bits: the circuit measures nothing"
        )


def plan(
    program: Shape,
    *,
    shots: int,
    parameters: Point | list[Point] | None = None,
    observables: Sequence[str | dict[str, float]] | None = None,
    outputs: Sequence[Output] | None = None,
    method: Method | None = None,
    noisy: bool = False,
    memory: bool = False,
    max_points: int | None = None,
) -> Plan:
    """The request checked against the program (its inputs, width and measurements) and
    against what its method can compute. Raises :class:`Refusal`."""
    points, sweep = _points(parameters, program.inputs, max_points)
    terms = observables_of(observables)
    for index, observable in enumerate(terms):
        width = len(next(iter(observable)))
        if width != program.qubits:
            raise Refusal(
                "observables",
                f"observable {index} is over {width} qubits; the circuit has {program.qubits}",
            )
    asked = frozenset(outputs or [Output.COUNTS])
    chosen = Method(method or Method.AUTOMATIC)
    sampled = Output.COUNTS in asked and (bool(outputs) or shots > 0 or not terms)
    if sampled and shots == 0:
        raise Refusal(
            "shots",
            "0 shots asks for exact values only: give observables or outputs without counts",
        )
    if memory and (sweep or not sampled):
        raise Refusal("memory", "each shot's outcome is kept for one point with shots only")
    result = Plan(points, sweep, terms, asked, sampled, chosen, exact_method(chosen, noisy))
    _check_exact(result, noisy, program)
    return result
