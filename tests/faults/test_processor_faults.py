"""No task is lost when processors crash, join, leave or stop (docs/architecture.md, guarantees
1 and 2)."""

from __future__ import annotations

import collections
import signal

from tests.helpers import TERMINAL, medium_program, read_topic, wait_for
from tests.stack import Stack


def submit_many(stack: Stack, count: int, salt: int) -> list[str]:
    return [stack.submit(medium_program(i % 8), shots=200, seed=salt + i) for i in range(count)]


def visible_states(stack: Stack, task_ids: list[str]) -> dict[str, str]:
    return {task_id: stack.status(task_id)["state"] for task_id in task_ids}


def count_terminal(stack: Stack, task_ids: list[str]) -> int:
    return sum(state in TERMINAL for state in visible_states(stack, task_ids).values())


def report(stack: Stack, name: str, task_ids: list[str]) -> dict[str, int]:
    """Wait for every task, then print and return the figures of the run."""
    states = wait_for(
        lambda: (
            (s := visible_states(stack, task_ids)) and all(v in TERMINAL for v in s.values()) and s
        ),
        300,
        "every accepted task to reach a terminal state",
        every=1,
    )
    results = [
        r.key.decode() for r in read_topic(stack.services.kafka_bootstrap, stack.topics.results)
    ]
    ours = collections.Counter(key for key in results if key in set(task_ids))
    figures = {
        "submitted": len(task_ids),
        "completed": sum(s == "completed" for s in states.values()),
        "failed": sum(s == "failed" for s in states.values()),
        "lost": sum(1 for t in task_ids if ours[t] == 0),
        "duplicate_records_on_log": sum(n - 1 for n in ours.values()),
    }
    print(f"\n{name}: {figures}")
    # A second look: the visible state of every task stays what it was.
    assert visible_states(stack, task_ids) == states
    return figures


def test_processor_killed_mid_run_loses_nothing(stack: Stack) -> None:
    task_ids = submit_many(stack, 200, salt=0)
    wait_for(lambda: count_terminal(stack, task_ids) >= 20, 120, "some tasks to finish")
    stack.processors[0].kill()  # SIGKILL: no chance to commit or hand over
    stack.add_processor()
    figures = report(stack, "processor SIGKILL", task_ids)
    assert figures["lost"] == 0
    assert figures["completed"] == 200


def test_rebalance_while_work_flows_loses_nothing(stack: Stack) -> None:
    task_ids = submit_many(stack, 150, salt=1000)
    wait_for(lambda: count_terminal(stack, task_ids) >= 10, 120, "some tasks to finish")
    stack.add_processor()  # joins: partitions move
    wait_for(lambda: count_terminal(stack, task_ids) >= 40, 120, "more tasks to finish")
    leaving = next(p for p in stack.processors if p.running)
    leaving.stop(timeout=60)  # leaves with SIGTERM: partitions move again
    task_ids += submit_many(stack, 50, salt=2000)
    figures = report(stack, "rebalance", task_ids)
    assert figures["lost"] == 0
    assert figures["completed"] == 200


def test_sigterm_drains_in_flight_work(stack: Stack) -> None:
    if stack.running_processors() < 2:
        stack.add_processor()
    task_ids = submit_many(stack, 60, salt=3000)
    wait_for(lambda: count_terminal(stack, task_ids) >= 5, 120, "some tasks to finish")
    running = [p for p in stack.processors if p.running]
    running[0]._proc.send_signal(signal.SIGTERM)  # graceful: finish or hand back
    assert running[0].wait(timeout=120) == 0
    figures = report(stack, "SIGTERM drain", task_ids)
    assert figures["lost"] == 0
    assert figures["completed"] == 60
