"""The scheduler's guarantees on the real stack (processor/scheduler.py, processor/control.py):
what runs is decided from the log, not from the Redis view, and the records in the look-ahead
stay uncommitted until done.

- A queued task cancelled, then Redis flushed while the processor runs (and a task withdrawn
  the same way): it never runs. The claim on an empty view would say "run"; the processor's
  own table of ``qc.cancellations`` says no.
- A processor SIGKILLed while its look-ahead holds hundreds of records: every accepted task
  ends terminal, once in the view (a task may run twice, at least once, never shown twice).
"""

from __future__ import annotations

import uuid
from collections import Counter

import pytest

from schemas.events import TaskCancelRequested, TaskSubmitted, utcnow
from tests.helpers import BELL, TERMINAL, medium_program, read_topic, states, wait_for
from tests.hostile import RUNAWAY
from tests.stack import MakeStack, Stack

#: The blockers never finish by themselves: each holds the one worker until its time limit.
BLOCK_MS = 5_000


@pytest.fixture(scope="module")
def stack(make_stack: MakeStack) -> Stack:
    return make_stack(PROCESSOR_WORKERS="1", QC_TASK_TIME_LIMIT_MS=str(BLOCK_MS))


def test_a_task_cancelled_then_redis_flushed_while_the_processor_runs_never_runs(
    stack: Stack,
) -> None:
    blockers = [stack.submit(RUNAWAY, shots=1, seed=i) for i in range(3)]
    cancelled = stack.submit(BELL, shots=10, seed=1)
    answer = stack.client.post(f"/tasks/{cancelled}/cancel")
    assert answer.status_code == 202 and answer.json()["state"] == "queued", answer.text
    # A submission answered 503 whose record reached the log after all, and its withdrawal.
    late = TaskSubmitted(
        task_id=str(uuid.uuid4()), qasm=BELL, shots=10, seed=2, submitted_at=utcnow()
    )
    stack.append(
        late, TaskCancelRequested(task_id=late.task_id, requested_at=utcnow(), withdrawn=True)
    )
    # Redis loses everything while the processor runs and both tasks are still queued.
    assert stack.status(cancelled)["state"] == "queued"
    assert stack.drop_view()
    for task_id in (cancelled, late.task_id):
        stack.wait_visible(task_id)
    done = stack.wait_terminal(cancelled, timeout=BLOCK_MS / 1000 * 4 + 60)
    assert done["state"] == "cancelled" and "started_at" not in done, done
    done = stack.wait_terminal(late.task_id, timeout=60)
    assert done["state"] == "cancelled" and "started_at" not in done, done
    assert "not accepted" in done["error"]["message"]
    # Nothing on the log says either ran.
    outcomes = [
        r
        for r in read_topic(stack.services.kafka_bootstrap, stack.topics.results)
        if r.key.decode() in (cancelled, late.task_id)
    ]
    assert outcomes and all(b'"status":"cancelled"' in r.value for r in outcomes)
    for blocker in blockers:
        assert stack.wait_terminal(blocker, timeout=BLOCK_MS / 1000 * 4 + 60)["state"] == "failed"


def test_a_processor_killed_with_hundreds_in_its_look_ahead_loses_nothing(
    stack: Stack,
) -> None:
    program = medium_program(7, qubits=14, depth=10)
    tasks = [
        TaskSubmitted(
            task_id=str(uuid.uuid4()),
            qasm=program,
            shots=20,
            seed=i,
            submitted_at=utcnow(),
            qubits=14,
            operations=100,
        )
        for i in range(400)
    ]
    task_ids = [task.task_id for task in tasks]
    stack.append(*tasks)
    stack.wait_visible(task_ids[-1])

    def some_done() -> int:
        found = states(stack, task_ids)
        done = sum(doc["state"] in TERMINAL for doc in found.values())
        return done if done >= 10 else 0

    done_before = wait_for(some_done, 120, "the first tasks to finish", every=0.05)
    assert done_before < len(tasks) - 200, "the look-ahead held fewer than 200 records"
    (processor,) = stack.processors
    processor.kill()
    stack.add_processor()
    wait_for(
        lambda: all(doc["state"] in TERMINAL for doc in states(stack, task_ids).values()),
        300,
        "every task to end",
    )
    found = states(stack, task_ids)
    assert all(doc["state"] == "completed" for doc in found.values())
    records = [
        r
        for r in read_topic(stack.services.kafka_bootstrap, stack.topics.results)
        if r.key.decode() in found
    ]
    per_task = Counter(r.key.decode() for r in records)
    assert set(per_task) == set(task_ids)
    # A task run twice gives the same counts (its seed), and the view shows it once.
    twice = [task_id for task_id, n in per_task.items() if n > 1]
    print(
        f"\n{len(tasks)} tasks, {done_before} done before the SIGKILL; "
        f"{len(twice)} ran twice (at least once), 0 lost"
    )
