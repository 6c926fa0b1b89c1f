"""The scheduler's own decisions, without a broker (processor/scheduler.py takes its job
runner as an argument): fair share between owners, heavy tasks never on every worker, small
tasks batched only from what is waiting, the look-ahead bounded, records given back."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from processor.scheduler import Entry, Scheduler
from schemas.events import TaskSubmitted, utcnow
from tests.helpers import BELL

HEAVY_WORK = 2**26


def task(owner: str, qubits: int = 2, operations: int = 4) -> TaskSubmitted:
    return TaskSubmitted(
        task_id=str(uuid.uuid4()),
        qasm=BELL,
        shots=100,
        seed=1,
        submitted_at=utcnow(),
        owner=owner,
        qubits=qubits,
        operations=operations,
    )


class Jobs:
    """A job runner that records each job and finishes it when told."""

    def __init__(self) -> None:
        self.started: list[list[Entry]] = []
        self.release: dict[int, asyncio.Event] = {}

    async def run(self, job: list[Entry]) -> None:
        index = len(self.started)
        self.started.append(job)
        self.release[index] = asyncio.Event()
        await self.release[index].wait()

    def owners(self, index: int) -> list[str]:
        return [entry.owner for entry in self.started[index]]


def scheduler(jobs: Jobs, workers: int = 2, **options: int) -> Scheduler:
    settings = {"lookahead": 100, "batch_max": 4, "heavy_work": HEAVY_WORK, "heavy_slots": 1}
    return Scheduler(jobs.run, workers=workers, **(settings | options))


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_a_newcomer_goes_before_a_flooding_owner() -> None:
    async def scenario() -> None:
        jobs = Jobs()
        chosen = scheduler(jobs, workers=1, batch_max=1)
        runner = asyncio.create_task(chosen.run())
        for _ in range(50):
            await chosen.put(chosen.entry(None, task("A")))
        await settle()
        await chosen.put(chosen.entry(None, task("B")))
        jobs.release[0].set()  # A's first task ends: B has run nothing, so B goes next
        await settle()
        assert jobs.owners(1) == ["B"]
        runner.cancel()

    asyncio.run(scenario())


def test_heavy_tasks_never_take_every_worker() -> None:
    async def scenario() -> None:
        jobs = Jobs()
        chosen = scheduler(jobs, workers=2)
        runner = asyncio.create_task(chosen.run())
        for _ in range(4):
            await chosen.put(chosen.entry(None, task("A", qubits=22, operations=100)))
        await settle()
        assert len(jobs.started) == 1 and jobs.started[0][0].heavy
        await chosen.put(chosen.entry(None, task("B")))
        await settle()
        assert len(jobs.started) == 2 and jobs.owners(1) == ["B"]
        assert not jobs.started[1][0].heavy
        runner.cancel()

    asyncio.run(scenario())


def test_small_tasks_leave_in_batches_of_what_is_waiting() -> None:
    async def scenario() -> None:
        jobs = Jobs()
        chosen = scheduler(jobs, workers=1, batch_max=4)
        runner = asyncio.create_task(chosen.run())
        await chosen.put(chosen.entry(None, task("A")))
        await settle()
        assert [len(job) for job in jobs.started] == [1]  # alone, at once
        for owner in "ABABAB":
            await chosen.put(chosen.entry(None, task(owner)))
        jobs.release[0].set()
        await settle()
        assert sorted(jobs.owners(1)) == ["A", "A", "B", "B"]  # fair inside a batch too
        runner.cancel()

    asyncio.run(scenario())


def test_the_look_ahead_is_bounded_and_gives_back_what_has_not_started() -> None:
    async def scenario() -> None:
        jobs = Jobs()
        chosen = scheduler(jobs, workers=1, batch_max=1, lookahead=3)
        runner = asyncio.create_task(chosen.run())
        for _ in range(4):  # one starts, three wait
            await chosen.put(chosen.entry(None, task("A")))
        await settle()
        blocked = asyncio.create_task(chosen.put(chosen.entry(None, task("A"))))
        await settle()
        assert not blocked.done() and chosen.waiting == 3
        given = chosen.give_back()
        assert len(given) == 3 and chosen.waiting == 0
        await settle()
        assert blocked.done()
        assert chosen.running_events() == [None]  # the one running is not given back
        runner.cancel()

    asyncio.run(scenario())


@pytest.mark.parametrize("qubits, heavy", [(2, False), (20, True), (12, False)])
def test_weight_tells_small_from_heavy(qubits: int, heavy: bool) -> None:
    chosen = scheduler(Jobs())
    assert chosen.entry(None, task("A", qubits=qubits, operations=100)).heavy is heavy


def test_a_record_that_does_not_say_its_cost_counts_as_heavy() -> None:
    chosen = scheduler(Jobs())
    unknown = task("A").model_copy(update={"qubits": None, "operations": None})
    assert chosen.entry(None, unknown).heavy


def test_the_control_table_stops_cancelled_generations_and_every_withdrawn_one() -> None:
    from processor.control import ControlTable
    from schemas.events import TaskCancelRequested

    table = ControlTable("127.0.0.1:1", "unused")
    table.record(TaskCancelRequested(task_id="c", requested_at=utcnow(), generation=1))
    table.record(TaskCancelRequested(task_id="w", requested_at=utcnow(), withdrawn=True))
    assert table.stops("c", 0) and table.stops("c", 1) and not table.stops("c", 2)
    assert table.stops("w", 0) and table.stops("w", 5)  # a replay's generation too
    assert not table.stops("other", 0)
