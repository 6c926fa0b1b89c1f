"""The simulator wrapper: exact circuits, custom gates by their definition, clean failures."""

from __future__ import annotations

import pytest
from qiskit import QuantumCircuit, qasm3
from qiskit.circuit.library import QFTGate
from qiskit.quantum_info import Statevector

from processor.simulate import prepare, run_program, simulator
from programs.errors import ProgramError
from programs.limits import Limits
from tests.helpers import BELL
from tests.reading import parse_program

LIMITS = Limits(max_qubits=20, max_shots=100_000, max_operations=10_000, max_program_bytes=65536)


def run(program: str, shots: int = 1000, seed: int = 1, memory_mb: int = 1024) -> dict[str, int]:
    (counts, memory, _, _, *_), _ = run_program(program, shots, seed, LIMITS, memory_mb)
    assert memory is None
    return counts


def test_bell_counts() -> None:
    counts = run(BELL, shots=2000)
    assert set(counts) == {"00", "11"} and sum(counts.values()) == 2000


def test_seed_fixes_the_counts() -> None:
    assert run(BELL, seed=5) == run(BELL, seed=5)
    assert run(BELL, seed=5) != run(BELL, seed=6)


def test_what_qiskit_dumps_runs_with_exact_probabilities() -> None:
    circuit = QuantumCircuit(3)
    circuit.append(QFTGate(3), [0, 1, 2])
    circuit.ch(0, 2)  # not executed natively by Aer
    circuit.rzz(0.4, 1, 2)
    program = qasm3.dumps(circuit.decompose(reps=0))
    parsed = prepare(parse_program(program), simulator(1024, 1))
    expected = Statevector(circuit).probabilities_dict()
    assert Statevector(parsed).probabilities_dict() == pytest.approx(expected, abs=1e-9)
    measured = circuit.copy()
    measured.measure_all()
    counts = run(qasm3.dumps(measured), shots=4000)
    assert sum(counts.values()) == 4000


def test_custom_gate_named_like_a_native_one_runs_its_own_body() -> None:
    program = (
        "OPENQASM 3.0;\n"
        "gate rzz(t) a, b { U(t, 0, 0) a; }\n"  # not the standard RZZ: a rotation of a alone
        'include "stdgates.inc";\n'
        "qubit[2] q;\nbit[2] c;\nrzz(pi) q[0], q[1];\nc = measure q;\n"
    )
    assert run(program, shots=100) == {"01": 100}


def test_no_measurement_fails_with_a_reason() -> None:
    with pytest.raises(ProgramError, match="measures nothing"):
        run('OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit q;\nh q;\n')


def test_circuit_too_large_for_memory_fails_cleanly() -> None:
    program = 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[20] q;\nbit[20] c;\n'
    program += "".join(f"h q[{i}];\nt q[{i}];\n" for i in range(20)) + "c = measure q;\n"
    with pytest.raises(ProgramError, match="Insufficient memory") as caught:
        run(program, memory_mb=1)
    assert caught.value.code == "out_of_memory"


def test_memory_lists_every_shot_in_order() -> None:
    (counts, memory, _, _, *_), _ = run_program(BELL, 50, 3, LIMITS, 1024, memory=True)
    assert memory is not None and len(memory) == 50
    assert {bits: memory.count(bits) for bits in set(memory)} == counts


def test_a_worker_reads_a_small_program_once() -> None:
    from processor.simulate import _read_cached

    text = BELL.replace("h q[0];", "h q[0];\nbarrier q;")
    before = _read_cached.cache_info()
    first = run_program(text, 50, 3, LIMITS, 1024)[0]
    assert run_program(text, 50, 3, LIMITS, 1024)[0] == first
    after = _read_cached.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 1)


@pytest.mark.parametrize("extra", ["", "t q[0];\n"])
def test_the_method_aer_chose_is_reported_as_aer_reports_it(extra: str) -> None:
    """Automatic resolves to what Aer picked: the stabilizer for a Clifford circuit, another
    method once a T gate is in (the reference is Aer's own result metadata)."""
    from qiskit_aer import AerSimulator

    program = BELL.replace("cx q[0], q[1];\n", "cx q[0], q[1];\n" + extra)
    outcome, _ = run_program(program, 100, 3, LIMITS, 1024)
    reference = AerSimulator().run(parse_program(program), shots=100, seed_simulator=3).result()
    assert outcome.aer_method == reference.results[0].metadata["method"]
    assert (outcome.aer_method == "stabilizer") == (extra == "")
