"""Programs read as tests and benchmarks read them: with generous limits, held to none of the
service's own, and just the circuit when that is all a test needs."""

from __future__ import annotations

from qiskit import QuantumCircuit

from programs.front import read_program
from programs.limits import Limits

GENEROUS = Limits(
    max_qubits=40, max_shots=10**7, max_operations=10**7, max_program_bytes=16 * 1024 * 1024
)


def parse_program(text: str, limits: Limits = GENEROUS) -> QuantumCircuit:
    """Just the circuit of :func:`programs.front.read_program`."""
    program = read_program(text, limits)
    assert program is not None
    return program.circuit
