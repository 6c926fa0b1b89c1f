"""The guardrails a program is held to, and the ones that need no parsing (shots, bytes)."""

from __future__ import annotations

from pydantic import BaseModel

from programs.errors import ProgramError, limit_exceeded


class Limits(BaseModel):
    max_qubits: int
    max_shots: int
    #: Operations once gate definitions are expanded and loops unrolled (programs.cost).
    max_operations: int
    max_program_bytes: int
    #: Qubits each simulation method may take (``schemas.events.Method`` values); a method
    #: not listed takes ``max_qubits``.
    method_qubits: dict[str, int] = {}
    #: The method ``max_qubits`` is for, when it is one method's limit (said in refusals).
    method: str | None = None

    def for_method(self, method: str | None) -> Limits:
        """These limits with the qubit limit of ``method`` (None: automatic)."""
        name = method or "automatic"
        qubits = self.method_qubits.get(name, self.max_qubits)
        return self.model_copy(update={"max_qubits": qubits, "method": name})


def check_size(text: str, limits: Limits) -> None:
    """Before anything reads the program: not empty, not over the byte limit."""
    if not text.strip():
        raise ProgramError("the program is empty")
    size = len(text.encode())
    if size > limits.max_program_bytes:
        raise limit_exceeded(
            f"the program is {size} bytes; the limit is {limits.max_program_bytes}"
        )


def check_shots(shots: int, limits: Limits) -> None:
    if shots < 1 or shots > limits.max_shots:
        raise limit_exceeded(f"shots must be between 1 and {limits.max_shots}")


def check_qubits(qubits: int, limits: Limits) -> None:
    if qubits > limits.max_qubits:
        method = f" with method {limits.method}" if limits.method else ""
        raise limit_exceeded(
            f"the circuit uses {qubits} qubits; the limit{method} is {limits.max_qubits}"
        )


#: Costs saturate here (programs.cost): a bomb's count is "at least" this, not a huge integer.
SATURATED = 10**15


def check_operations(operations: int, limits: Limits) -> None:
    if operations > limits.max_operations:
        count = f"at least {SATURATED:.0e}" if operations >= SATURATED else str(operations)
        raise limit_exceeded(
            f"the circuit runs {count} operations once gates are expanded and loops are "
            f"unrolled; the limit is {limits.max_operations}"
        )
