"""No commit past a running task (docs/architecture.md, guarantee 1): with several tasks in hand
per processor (the scheduler's look-ahead and its jobs), records finish out of order; the
group's committed offset must never move past a task still running, or a processor killed then
would leave that task ``running`` for ever. Slow tasks at the heads of the partitions, fast ones
behind them that finish first, several commit intervals, then SIGKILL: every accepted task ends
terminal."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from tests.helpers import BELL, TERMINAL, read_topic, wait_for
from tests.hostile import RUNAWAY as SLOW
from tests.stack import MakeStack, Stack

#: The slow tasks never finish by themselves: each ends at the time limit, a known moment.
SLOW_MS = 12_000
ROUNDS = 2


@pytest.fixture(scope="module")
def stack(make_stack: MakeStack) -> Stack:
    return make_stack(
        QC_TASK_TIME_LIMIT_MS=str(SLOW_MS),
        PROCESSOR_WORKERS="2",
        PROCESSOR_BATCH_MAX="1",  # many tasks in hand, one per job: out-of-order acknowledgements
    )


def states(stack: Stack, task_ids: list[str]) -> dict[str, str]:
    return {task_id: stack.status(task_id)["state"] for task_id in task_ids}


async def _committed(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
        return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic}
    finally:
        await admin.close()


def committed(stack: Stack) -> dict[int, int]:
    """The processor group's committed offset of each partition of qc.submitted."""
    group = stack.env["PROCESSOR_ID"]
    return asyncio.run(_committed(stack.services.kafka_bootstrap, group, stack.topics.submitted))


def positions(stack: Stack) -> dict[str, tuple[int, int]]:
    """Partition and offset of every task's submission record."""
    records = read_topic(stack.services.kafka_bootstrap, stack.topics.submitted)
    return {record.key.decode(): (record.partition, record.offset) for record in records}


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_no_commit_past_a_running_task(stack: Stack, round_: int) -> None:
    # One slow task (it holds one of the two workers until its time limit); many fast ones
    # behind it on every partition, which the other worker runs and acknowledges first.
    slow = stack.submit(SLOW, shots=1, seed=round_)
    wait_for(lambda: stack.status(slow)["state"] == "running", 60, "the slow task to start")
    fast = [stack.submit(BELL, shots=10, seed=i) for i in range(60)]
    wait_for(
        lambda: all(state in TERMINAL for state in states(stack, fast).values()),
        120,
        "the fast tasks behind it",
    )
    found = positions(stack)
    slow_partition, slow_offset = found[slow]
    ends: dict[int, int] = {}
    for partition, offset in (found[task_id] for task_id in fast):
        ends[partition] = max(ends.get(partition, 0), offset + 1)
    others = {p: end for p, end in ends.items() if p != slow_partition}
    # The commits after the fast tasks finished (one a second): every other partition's.
    wait_for(
        lambda: all(committed(stack).get(p, -1) >= end for p, end in others.items()),
        30,
        "the fast tasks' offsets committed",
        every=0.5,
    )
    assert stack.status(slow)["state"] == "running"
    assert committed(stack).get(slow_partition, -1) <= slow_offset, "committed past a task"
    stack.processors[-1].kill()  # SIGKILL: no hand-over, no last commit
    stack.add_processor()
    # Its record was not committed past: the new processor reads it again, and it ends.
    done = stack.wait_terminal(slow, timeout=SLOW_MS / 1000 * 3 + 120)
    assert done["state"] == "failed" and done["error"]["code"] == "time_limit_exceeded"
    assert all(state in TERMINAL for state in states(stack, fast).values())
