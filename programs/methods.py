"""What each simulation method can run and compute, so that a request it cannot serve is a 4xx
at submit with the reason, never a failed run later.

The instruction sets of the two stabilizer methods are Aer's own (``AerSimulator(method=...)
.configuration().basis_gates``, copied here so that the API reads them without loading Aer; a
unit test keeps them equal). The other methods run any gate once it is transpiled.
"""

from __future__ import annotations

import math

from schemas.events import Method, Output

#: Instructions Aer's stabilizer method runs (``rz`` only at multiples of pi/2).
STABILIZER_GATES = frozenset(
    "break_loop continue_loop cx cy cz delay ecr for_loop h id if_else pauli reset rz s sdg "
    "store swap switch_case sx sxdg while_loop x y z".split()
)
#: Instructions Aer's extended stabilizer method runs (Clifford, T and small phase gates).
EXTENDED_STABILIZER_GATES = frozenset(
    "ccx ccz cx cz delay ecr h id p pauli reset rz s sdg store swap sx sxdg t tdg u1 x y z".split()
)
#: Instructions every method takes whatever its gate set.
ALWAYS = frozenset({"measure", "barrier"})

GATES: dict[Method, frozenset[str]] = {
    Method.STABILIZER: STABILIZER_GATES,
    Method.EXTENDED_STABILIZER: EXTENDED_STABILIZER_GATES,
}

#: The exact outputs each method can save (Aer's save instructions per method).
EXACT_OUTPUTS: dict[Method, frozenset[Output]] = {
    Method.AUTOMATIC: frozenset({Output.PROBABILITIES, Output.STATEVECTOR}),
    Method.STATEVECTOR: frozenset({Output.PROBABILITIES, Output.STATEVECTOR}),
    Method.DENSITY_MATRIX: frozenset({Output.PROBABILITIES}),
    Method.MATRIX_PRODUCT_STATE: frozenset({Output.PROBABILITIES, Output.STATEVECTOR}),
    Method.STABILIZER: frozenset({Output.PROBABILITIES}),
    Method.EXTENDED_STABILIZER: frozenset(),
}
#: Methods whose exact expectation values (``"shots": 0``) Aer computes.
EXACT_EXPECTATIONS = frozenset(Method) - {Method.EXTENDED_STABILIZER}


def exact_method(method: Method, noisy: bool) -> Method:
    """The method exact outputs are computed with: a noisy state is a density matrix."""
    return Method.DENSITY_MATRIX if noisy else method


def is_clifford_angle(angle: float) -> bool:
    quarter = angle / (math.pi / 2)
    return abs(quarter - round(quarter)) < 1e-9


def unsupported(names: set[str], method: Method) -> set[str]:
    """The instruction names ``method`` does not run (empty for the methods that transpile)."""
    gates = GATES.get(method)
    if gates is None:
        return set()
    return names - gates - ALWAYS
