"""What a program will cost once it runs, computed from its structure, never by building it.

A gate definition's cost is the sum of its body's costs (computed once, when it is defined); a
call costs its gate's cost times the qubits it is broadcast over; a ``for`` loop costs its trip
count times its body; a branch costs its dearer arm. So a definition nested 30 levels deep, or a
loop of 10^9 iterations, is priced in microseconds from a few hundred bytes, and refused before
any parser expands it (Qiskit's reference importer re-reads a gate's body at every call, which
is exponential in the nesting). Costs saturate at :data:`programs.limits.SATURATED`.

:func:`tree_cost` reads the OpenQASM 3 syntax tree (the reference parser's, and the input of
pyqasm); :func:`circuit_cost` reads a circuit that a linear-time parser built (Qiskit's Rust
OpenQASM 2 and 3 parsers keep a gate's definition once, however often it is called).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from openqasm3 import ast

from programs.errors import ProgramError
from programs.limits import SATURATED

if TYPE_CHECKING:
    from qiskit import QuantumCircuit


def _cap(value: int) -> int:
    return min(value, SATURATED)


def _where(node: ast.QASMNode) -> tuple[int | None, int | None]:
    span = getattr(node, "span", None)
    return (span.start_line, span.start_column + 1) if span else (None, None)


def _refuse(node: ast.QASMNode, message: str) -> ProgramError:
    line, column = _where(node)
    return ProgramError(message, line, column)


_BINARY = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a // b if b else None,
    "%": lambda a, b: a % b if b else None,
    "**": lambda a, b: a**b if 0 <= b < 64 and abs(a) < 2**16 else None,
    "<<": lambda a, b: a << b if 0 <= b < 64 else None,
    ">>": lambda a, b: a >> b if 0 <= b < 64 else None,
}


@dataclass
class _Scope:
    """What the walk knows at one point: integer values, register widths, defined costs."""

    values: dict[str, int] = field(default_factory=dict)
    registers: dict[str, int] = field(default_factory=dict)
    gates: dict[str, int] = field(default_factory=dict)
    subroutines: dict[str, int] = field(default_factory=dict)
    physical: set[str] = field(default_factory=set)
    #: Inside a loop's body, an assignment makes a value unknown (it changes every iteration).
    in_loop: bool = False


@dataclass(frozen=True)
class TreeCost:
    qubits: int
    operations: int


class _Walk:
    def __init__(self) -> None:
        self.scope = _Scope()

    # Integer expressions known before the program runs.
    def value(self, node: ast.Expression | ast.QuantumMeasurement | None) -> int | None:
        if isinstance(node, ast.IntegerLiteral):
            return node.value
        if isinstance(node, ast.BooleanLiteral):
            return int(node.value)
        if isinstance(node, ast.Identifier):
            return self.scope.values.get(node.name)
        if isinstance(node, ast.UnaryExpression) and node.op.name == "-":
            inner = self.value(node.expression)
            return None if inner is None else -inner
        if isinstance(node, ast.BinaryExpression):
            left, right = self.value(node.lhs), self.value(node.rhs)
            operation = _BINARY.get(node.op.name)
            if left is None or right is None or operation is None:
                return None
            result = operation(left, right)
            return None if result is None or abs(result) > SATURATED else result
        return None

    def _range_length(self, node: ast.RangeDefinition, width: int | None) -> int | None:
        start = 0 if node.start is None else self.value(node.start)
        end = (
            (width - 1 if width is not None else None) if node.end is None else self.value(node.end)
        )
        step = 1 if node.step is None else self.value(node.step)
        if start is None or end is None or not step:
            return None
        return max(0, (end - start) // step + 1)

    # Qubit operands: how many qubits a gate, a measurement or a reset is broadcast over.
    def width(self, operand: ast.Expression | ast.IndexedIdentifier) -> int:
        if isinstance(operand, ast.Identifier):
            if operand.name.startswith("$"):
                self.scope.physical.add(operand.name)
                return 1
            return self.scope.registers.get(operand.name, 1)
        if isinstance(operand, ast.IndexedIdentifier):
            register = self.scope.registers.get(operand.name.name)
            count = register or 1
            for group in operand.indices:
                if isinstance(group, ast.DiscreteSet):
                    count = len(group.values)
                    continue
                count = 0
                for index in group:
                    if isinstance(index, ast.RangeDefinition):
                        length = self._range_length(index, register)
                        count += register or 1 if length is None else length
                    else:
                        count += 1
            return count
        return 1

    def broadcast(self, operands: Iterable[ast.Expression | ast.IndexedIdentifier]) -> int:
        return max((self.width(operand) for operand in operands), default=1)

    # Statements.
    def block(self, statements: Iterable[ast.Statement | ast.QuantumStatement | ast.Pragma]) -> int:
        return _cap(sum(self.statement(statement) for statement in statements))

    def _calls(self, node: object) -> int:
        """The cost of the subroutines an expression calls."""
        if isinstance(node, ast.FunctionCall):
            own = self.scope.subroutines.get(node.name.name, 0)
            return _cap(own + sum(self._calls(argument) for argument in node.arguments))
        if isinstance(node, ast.BinaryExpression):
            return _cap(self._calls(node.lhs) + self._calls(node.rhs))
        if isinstance(node, ast.UnaryExpression):
            return self._calls(node.expression)
        if isinstance(node, ast.QuantumMeasurement):
            return self.width(node.qubit)
        return 0

    def _assign(
        self, name: str, expression: ast.Expression | ast.QuantumMeasurement | None
    ) -> None:
        value = None if self.scope.in_loop else self.value(expression)
        if value is None:
            self.scope.values.pop(name, None)
        else:
            self.scope.values[name] = value

    def statement(self, node: ast.Statement | ast.QuantumStatement | ast.Pragma) -> int:
        scope = self.scope
        if isinstance(node, ast.QuantumGate):
            cost = scope.gates.get(node.name.name, 1)
            for modifier in node.modifiers:
                if modifier.modifier.name == "pow":
                    power = self.value(modifier.argument)
                    cost *= abs(power) if power else 1
            return _cap(cost * self.broadcast(node.qubits))
        if isinstance(node, ast.QuantumMeasurementStatement):
            return self.width(node.measure.qubit)
        if isinstance(node, ast.QuantumReset):
            return self.width(node.qubits)
        if isinstance(node, ast.QubitDeclaration):
            size = 1 if node.size is None else self.value(node.size)
            if size is None or size < 0:
                raise _refuse(node, "the size of a qubit register must be a constant")
            scope.registers[node.qubit.name] = size
            return 0
        if isinstance(node, ast.ConstantDeclaration | ast.ClassicalDeclaration):
            self._assign(node.identifier.name, node.init_expression)
            return self._calls(node.init_expression)
        if isinstance(node, ast.ClassicalAssignment):
            name = node.lvalue.name if isinstance(node.lvalue, ast.Identifier) else None
            if name is not None:
                self._assign(name, node.rvalue if node.op.name == "=" else None)
            return self._calls(node.rvalue)
        if isinstance(node, ast.ExpressionStatement):
            return self._calls(node.expression)
        if isinstance(node, ast.QuantumGateDefinition):
            scope.gates[node.name.name] = self._local(node.body, node.qubits)
            return 0
        if isinstance(node, ast.SubroutineDefinition):
            qubits = [a.name for a in node.arguments if isinstance(a, ast.QuantumArgument)]
            scope.subroutines[node.name.name] = self._local(node.body, qubits)
            return 0
        if isinstance(node, ast.ForInLoop):
            trips = self._trips(node)
            return _cap(trips * self._loop_body(node.block, node.identifier.name))
        if isinstance(node, ast.WhileLoop):
            # Runs until a measurement says otherwise: one pass is counted, the task's time
            # limit bounds the rest.
            return self._loop_body(node.block, None)
        if isinstance(node, ast.BranchingStatement):
            return max(self.block(node.if_block), self.block(node.else_block))
        if isinstance(node, ast.SwitchStatement):
            arms = [self.block(body.statements) for _, body in node.cases]
            if node.default is not None:
                arms.append(self.block(node.default.statements))
            return max(arms, default=0)
        if isinstance(node, ast.Box):
            return self.block(node.body)
        if isinstance(node, ast.CompoundStatement):
            return self.block(node.statements)
        return 0

    def _local(self, body: list, qubits: Iterable[ast.Identifier | str]) -> int:
        """A definition's cost: its qubit arguments are single qubits inside it."""
        names = [q if isinstance(q, str) else q.name for q in qubits]
        saved = {
            name: self.scope.registers.pop(name) for name in names if name in self.scope.registers
        }
        try:
            return self.block(body)
        finally:
            self.scope.registers.update(saved)

    def _trips(self, node: ast.ForInLoop) -> int:
        declared = node.set_declaration
        if isinstance(declared, ast.DiscreteSet):
            return len(declared.values)
        if isinstance(declared, ast.RangeDefinition):
            length = self._range_length(declared, None)
            if length is not None:
                return length
        raise _refuse(node, "the range of a for loop must be known before the program runs")

    def _loop_body(self, block: list, variable: str | None) -> int:
        outer = self.scope.in_loop
        self.scope.in_loop = True
        if variable is not None:
            self.scope.values.pop(variable, None)
        try:
            return self.block(block)
        finally:
            self.scope.in_loop = outer


def tree_cost(program: ast.Program) -> TreeCost:
    """Qubits declared (registers and distinct physical qubits) and operations that will run."""
    walk = _Walk()
    try:
        operations = walk.block(program.statements)
    except RecursionError:
        raise ProgramError("the program is nested too deeply") from None
    qubits = sum(walk.scope.registers.values()) + len(walk.scope.physical)
    return TreeCost(qubits=qubits, operations=operations)


def circuit_cost(circuit: QuantumCircuit) -> int:
    """Operations a circuit runs: loops unrolled, the dearer arm of a branch, every gate the
    program defined expanded (priced once per definition, so this is linear in what the
    parser built). Raises :class:`ProgramError` for an instruction nothing can run (an
    OpenQASM 2 ``opaque`` gate)."""
    from qiskit.circuit import ControlFlowOp, ForLoopOp, Gate

    priced: dict[str, int] = {}

    def gate_cost(operation: Gate) -> int:
        if getattr(operation, "_standard_gate", None) is not None:
            return 1
        if operation.name not in priced:
            priced[operation.name] = 1  # a definition that (wrongly) uses itself stops here
            definition = operation.definition
            if definition is None:
                raise ProgramError(f"gate '{operation.name}' has no definition, so it cannot run")
            priced[operation.name] = max(1, cost(definition))
        return priced[operation.name]

    def cost(body: QuantumCircuit) -> int:
        total = 0
        for instruction in body.data:
            operation = instruction.operation
            if isinstance(operation, ForLoopOp):
                total += len(operation.params[0]) * cost(operation.blocks[0])
            elif isinstance(operation, ControlFlowOp):
                total += max((cost(block) for block in operation.blocks), default=0)
            elif isinstance(operation, Gate):
                total += gate_cost(operation)
            elif operation.name != "barrier":
                total += 1
            if total >= SATURATED:
                return SATURATED
        return total

    return cost(circuit)
