"""Guardrails in the processor (docs/architecture.md, guarantees 3 to 5): a runaway circuit is
killed at its time limit, a circuit too big for memory fails, records that bypass the API are
checked again, and the processor keeps serving other tasks throughout."""

from __future__ import annotations

import pytest

from tests.helpers import BELL
from tests.hostile import RUNAWAY, gate_bomb
from tests.stack import MakeStack, Stack

TIME_LIMIT_MS = 2000


@pytest.fixture(scope="module")
def stack(make_stack: MakeStack) -> Stack:
    return make_stack(
        QC_TASK_TIME_LIMIT_MS=str(TIME_LIMIT_MS),
        QC_TASK_MAX_MEMORY_MB="8",
        PROCESSOR_WORKERS="1",  # the runaway holds the only worker until it is killed
    )


def test_runaway_circuit_is_killed_at_the_time_limit(stack: Stack) -> None:
    runaway = stack.submit(RUNAWAY, shots=1)
    after = stack.submit(BELL, shots=100)
    failed = stack.wait_terminal(runaway)
    assert failed["state"] == "failed"
    assert failed["error"]["code"] == "time_limit_exceeded"
    assert "time limit exceeded" in failed["message"]
    assert stack.wait_terminal(after)["status"] == "completed"
    assert all(p.running for p in stack.processors)


def test_circuit_too_large_for_memory_fails_cleanly(stack: Stack) -> None:
    program = 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[22] q;\nbit[22] c;\n'
    program += "".join(f"h q[{i}];\nt q[{i}];\n" for i in range(22)) + "c = measure q;\n"
    failed = stack.wait_terminal(stack.submit(program, shots=1))
    assert failed["error"]["code"] == "out_of_memory"
    assert stack.wait_terminal(stack.submit(BELL))["status"] == "completed"


def test_records_past_the_api_are_checked_again(stack: Stack) -> None:
    too_wide = 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[40] q;\nbit[40] c;\nc = measure q;\n'
    limit = stack.wait_terminal(stack.inject(too_wide))
    assert limit["error"]["code"] == "limit_exceeded"
    assert "40 qubits" in limit["message"]

    too_many_shots = stack.wait_terminal(stack.inject(BELL, shots=10**9))
    assert too_many_shots["error"]["code"] == "limit_exceeded"

    # Priced before anything expands it: the worker neither hangs nor runs out of memory.
    bomb = stack.wait_terminal(stack.inject(gate_bomb(30)))
    assert bomb["error"]["code"] == "limit_exceeded"
    assert "operations" in bomb["message"]
    assert stack.wait_terminal(stack.submit(BELL))["status"] == "completed"


@pytest.mark.parametrize("path", ["/etc/passwd", "../../../../../../etc/hostname"])
def test_include_of_a_server_file_fails_without_reading_it(stack: Stack, path: str) -> None:
    program = f'OPENQASM 3.0;\ninclude "{path}";\nqubit q;\nbit c;\nc = measure q;\n'
    failed = stack.wait_terminal(stack.inject(program))
    assert failed["error"]["code"] == "invalid_program"
    assert "is not allowed" in failed["message"]
    assert "root:" not in failed["message"]
