"""Every outcome fits on the log: a result larger than a record is refused at submit when it can
be known there (each shot's outcome, ``memory``), and otherwise ends the task ``failed`` with
``limit_exceeded`` and its size, instead of being retried for ever while the task holds one of
the processor's slots (docs/architecture.md, guarantee 4).

Here without compression (QC_COMPRESSION=none): a record counts its bytes as written. With
compression, the same bounds count the compressed record (tests/integration/test_compression.py).
"""

from __future__ import annotations

import pytest

from tests.helpers import BELL
from tests.stack import MakeStack, Stack

WIDE = 20
#: Every one of 2**20 outcomes about equally likely: with 100,000 shots, about 100,000
#: distinct bit strings in the counts, some 2.8 MB of JSON.
SPREAD = (
    'OPENQASM 3.0;\ninclude "stdgates.inc";\n'
    f"qubit[{WIDE}] q;\nbit[{WIDE}] c;\nh q;\nc = measure q;\n"
)


@pytest.fixture(scope="module")
def stack(make_stack: MakeStack) -> Stack:
    return make_stack(QC_COMPRESSION="none")


def test_memory_that_cannot_fit_is_refused_at_submit(stack: Stack) -> None:
    response = stack.client.post("/tasks", json={"qc": SPREAD, "shots": 100_000, "memory": True})
    assert response.status_code == 422, response.text
    (detail,) = response.json()["detail"]
    assert detail["type"] == "limit_exceeded" and detail["loc"] == ["body", "memory"]
    assert "QC_MAX_RECORD_BYTES" in detail["msg"]
    # A few shots of the same program fit.
    small = stack.wait_terminal(stack.submit(SPREAD, shots=10, memory=True))
    assert small["status"] == "completed" and len(small["memory"]) == 10


def test_oversized_results_fail_and_the_processor_keeps_its_slots(stack: Stack) -> None:
    # More at once than the processor has slots (PROCESSOR_WORKERS=2: 4 agent slots).
    big = [stack.submit(SPREAD, shots=100_000, seed=i) for i in range(6)]
    injected = stack.inject(SPREAD, shots=100_000, memory=True)  # past the API's check
    for task_id in [*big, injected]:
        failed = stack.wait_terminal(task_id, timeout=120)
        assert failed["state"] == "failed", failed
        assert failed["error"]["code"] == "limit_exceeded"
        assert "bytes" in failed["message"] and "QC_MAX_RECORD_BYTES" in failed["message"]
    # Every slot came back: a round of Bell tasks, more than the slots, all complete.
    bells = [stack.submit(BELL, shots=100, seed=i) for i in range(12)]
    for task_id in bells:
        assert stack.wait_terminal(task_id, timeout=120)["status"] == "completed"
