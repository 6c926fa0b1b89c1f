"""Gates replaced by their definitions before a circuit runs: a program's own gates (always,
whatever their name), and standard gates a simulator does not run natively. Shared by the
processor (before it simulates) and the API's readers (to check what a method can run)."""

from __future__ import annotations

from typing import Any

from qiskit import QuantumCircuit
from qiskit.circuit import ControlFlowOp, Gate

from programs.errors import limit_exceeded


def _is_custom(operation: Any) -> bool:
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


def operation_names(circuit: QuantumCircuit) -> set[str]:
    names: set[str] = set()
    for instruction in circuit.data:
        names.add(instruction.operation.name)
        if isinstance(instruction.operation, ControlFlowOp):
            for block in instruction.operation.blocks:
                names |= operation_names(block)
    return names
