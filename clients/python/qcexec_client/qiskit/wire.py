"""How a PUB travels: its circuit as OpenQASM 3 with the names the exporter gave its
parameters, its bindings as the points of one sweep, and answers back into bit arrays."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from qiskit import QuantumCircuit, qasm3
from qiskit.circuit import Instruction
from qiskit.primitives.containers import BindingsArray, BitArray

from qcexec_client.models import Task

# qasm3.dumps declares the circuit's parameters in the order of ``circuit.parameters``, each
# under a name it may have escaped (``θ[0]`` becomes ``_θ_0_``).
_INPUT = re.compile(r"^\s*input\s+(?:float|angle)(?:\[\d+\])?\s+([^\s;]+)\s*;", re.MULTILINE)


@dataclass(frozen=True)
class Program:
    qasm: str
    names: list[str]  # the exported name of each of circuit.parameters, in order


def _gates_only(circuit: QuantumCircuit) -> QuantumCircuit:
    """The circuit with every composite instruction that is not a gate (a circuit appended
    with ``append``) replaced by its definition: the exporter writes gates only."""
    for _ in range(16):
        names = {
            item.operation.name
            for item in circuit.data
            if type(item.operation) is Instruction and item.operation.definition is not None
        }
        if not names:
            break
        circuit = circuit.decompose(gates_to_decompose=sorted(names))
    return circuit


def exported(circuit: QuantumCircuit) -> Program:
    text = qasm3.dumps(_gates_only(circuit))
    names = _INPUT.findall(text)
    if len(names) != circuit.num_parameters:
        raise ValueError(
            f"the OpenQASM 3 export of circuit {circuit.name!r} declares {len(names)} inputs for "
            f"its {circuit.num_parameters} parameters"
        )
    return Program(text, names)


def points(
    circuit: QuantumCircuit, bindings: BindingsArray, names: list[str]
) -> list[dict[str, float]]:
    """The bindings, flattened in C order, one {exported name: value} per point."""
    values = bindings.as_array(circuit.parameters).reshape(-1, circuit.num_parameters)
    return [dict(zip(names, map(float, row), strict=True)) for row in values]


def _bool_rows(strings: list[str], width: int) -> np.ndarray:
    """Bit strings (Qiskit's order, registers separated by spaces) as booleans, column j being
    clbit j."""
    joined = "".join(s.replace(" ", "") for s in strings).encode()
    rows = np.frombuffer(joined, dtype=np.uint8).reshape(len(strings), width) == ord("1")
    return rows[:, ::-1]


def _from_counts(counts: dict[str, int], width: int, rng: np.random.Generator) -> np.ndarray:
    """Counts as shots in a random order (each shot's outcome, where the service kept counts
    only): the same statistics."""
    outcomes = list(counts)
    shots = np.repeat(_bool_rows(outcomes, width), [counts[o] for o in outcomes], axis=0)
    return shots[rng.permutation(len(shots))]


def shots_of(task: Task, width: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Each point's shots as booleans (shots, clbits), in order: the per-shot ``memory`` when
    the service kept it."""
    if task.memory is not None:
        return [_bool_rows(task.memory, width)]
    return [_from_counts(point.counts or {}, width, rng) for point in task.points]


def bit_arrays(
    circuit: QuantumCircuit, per_point: list[np.ndarray], shape: tuple[int, ...]
) -> dict[str, BitArray]:
    """One BitArray per classical register, shaped like the PUB, from every point's shots."""
    rows = np.stack(per_point)  # (points, shots, clbits)
    arrays = {}
    for register in circuit.cregs:
        columns = [circuit.find_bit(bit).index for bit in register]
        bits = BitArray.from_bool_array(rows[:, :, columns][:, :, ::-1], order="big")
        arrays[register.name] = bits.reshape(shape)
    return arrays
