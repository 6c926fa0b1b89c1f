"""How much work a task is, before it runs: the one rule by which the processor's scheduler
tells small tasks from heavy ones (and shares the workers between owners), computed from what
the API's reading of the program found (its qubits and the operations that will run), the
points of a sweep and the shots. The API writes the reading on the record; the processor calls
:func:`task_work` on it."""

from __future__ import annotations

from schemas.events import Method, TaskSubmitted

#: The work of a two-qubit Bell circuit: the unit the scheduler counts in.
UNIT = 4 * 2**2
#: A record that does not say what its program costs (an older writer) counts as this much:
#: heavy, so that it never takes every worker.
UNKNOWN = 2**40
#: Methods whose cost does not grow as 2^qubits (a stabilizer tableau, a matrix product state
#: of little entanglement): counted as if on this many qubits at most.
POLYNOMIAL = {
    Method.STABILIZER: 10,
    Method.EXTENDED_STABILIZER: 16,
    Method.MATRIX_PRODUCT_STATE: 16,
}


def task_work(task: TaskSubmitted) -> int:
    """Amplitude-operations the task will take, about: operations times the state's size
    (twice the qubits for a density matrix or noise, which runs as one) per point, plus the
    sampling, per point."""
    if task.qubits is None or task.operations is None:
        return UNKNOWN
    method = task.method or Method.AUTOMATIC
    qubits = min(task.qubits, POLYNOMIAL.get(method, 64))
    if method is Method.DENSITY_MATRIX or task.noise is not None:
        qubits *= 2
    points = max(1, len(task.parameters or ()))
    terms = sum(len(observable) for observable in task.observables or ())
    per_point = max(1, task.operations + terms) * 2 ** min(qubits, 60)
    return points * (per_point + task.shots * max(1, task.qubits))


def units(work: int) -> float:
    """``work`` in Bell circuits (at least 1)."""
    return max(1.0, work / UNIT)
