"""The processor's error and cancellation policy (processor/execute.py), without a broker, Redis
or worker processes: a real :class:`ControlTable` filled with real cancellation records, and
stand-ins for the pool and the view, which are not the subject here (only what ``execute``
decides from their answers is)."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from processor.control import ControlTable
from processor.execute import CRASH_ATTEMPTS, execute
from processor.pool import TaskCancelled, WorkerCrashed
from processor.simulate import Answer, Failure, Outcome
from programs.errors import ProgramError
from runtime.view import Claim, Rank, ViewEntry
from schemas.events import (
    Dialect,
    Method,
    Noise,
    PointResult,
    TaskCancelRequested,
    TaskResult,
    TaskSubmitted,
)
from tests.helpers import BELL

PROCESSOR = "host:1"
SUBMITTED_AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
CANCELLED_BEFORE = "cancelled before it started"
NOT_ACCEPTED = "not accepted: the API answered 503 before the log acknowledged it"


def outcome(
    counts: dict[str, int] | None = None,
    memory: list[str] | None = None,
    dialect: Dialect = Dialect.OPENQASM3,
    results: list[PointResult] | None = None,
) -> Outcome:
    """What a worker answers for a task that ran (the one place that knows its shape)."""
    return Outcome(counts if counts is not None else {"00": 6, "11": 4}, memory, dialect, results)


def answered(result: Outcome) -> Answer:
    """One task's answer in a batch that ran (its phases are the pool's business)."""
    return result, {}


def task(generation: int = 0, **fields: Any) -> TaskSubmitted:
    return TaskSubmitted(
        task_id=str(uuid.uuid4()),
        qasm=BELL,
        shots=10,
        seed=7,
        submitted_at=SUBMITTED_AT,
        generation=generation,
        **fields,
    )


Step = Outcome | BaseException


class Pool:
    """The worker pool's side of ``execute``: each task's runs alone answer the next of its
    ``steps`` (an outcome, or an exception raised); a batch answers ``batch`` (answers, or an
    exception raised for the whole hop). Records every call."""

    def __init__(
        self,
        steps: dict[str, list[Step]] | None = None,
        batch: list[Answer] | BaseException | None = None,
    ) -> None:
        self.steps = steps or {}
        self.batch = batch
        self.runs: list[str] = []
        self.batches: list[list[str]] = []
        self.cancels: dict[str, asyncio.Event] = {}

    async def run(self, task: TaskSubmitted, cancel: asyncio.Event) -> Outcome:
        self.runs.append(task.task_id)
        self.cancels[task.task_id] = cancel
        steps = self.steps.get(task.task_id)
        step = steps.pop(0) if steps else outcome()
        if isinstance(step, BaseException):
            raise step
        return step

    async def run_many(self, tasks: list[TaskSubmitted]) -> list[Answer]:
        self.batches.append([task.task_id for task in tasks])
        if isinstance(self.batch, BaseException):
            raise self.batch
        if self.batch is None:
            return [answered(outcome()) for _ in tasks]
        assert len(self.batch) == len(tasks)
        return self.batch


class View:
    """The view's side of ``execute``: ``claim_many`` answers ``claims`` (RUN for each entry
    when None) or raises ``error``. Records the entries it was asked to claim."""

    def __init__(
        self, claims: list[Claim] | None = None, error: BaseException | None = None
    ) -> None:
        self.claims = claims
        self.error = error
        self.claimed: list[list[ViewEntry]] = []

    async def claim_many(self, entries: Sequence[ViewEntry]) -> list[Claim]:
        self.claimed.append(list(entries))
        if self.error is not None:
            raise self.error
        if not entries:
            return []
        claims = self.claims if self.claims is not None else [Claim.RUN] * len(entries)
        assert len(claims) == len(entries)
        return claims


def cancel(control: ControlTable, of: TaskSubmitted, *, generation: int = 0, **fields: Any) -> None:
    """A cancellation record read from the log, as the processor's table reader takes it in."""
    request = TaskCancelRequested(
        task_id=of.task_id, requested_at=SUBMITTED_AT, generation=generation, **fields
    )
    control.record(TaskCancelRequested.decode(request.encode()))


def control_table() -> ControlTable:
    return ControlTable("localhost:9", "qc.cancellations")


async def executing(
    tasks: list[TaskSubmitted], pool: Pool, view: View, control: ControlTable
) -> list[TaskResult | None]:
    """``execute`` with the stand-ins in place of the pool and the view."""
    return await execute(tasks, pool, PROCESSOR, view, control)  # type: ignore[arg-type]


def run(
    tasks: list[TaskSubmitted],
    pool: Pool | None = None,
    view: View | None = None,
    control: ControlTable | None = None,
) -> list[TaskResult | None]:
    return asyncio.run(executing(tasks, pool or Pool(), view or View(), control or control_table()))


def only(results: list[TaskResult | None]) -> TaskResult:
    (result,) = results
    assert result is not None
    return result


def test_a_task_alone_runs_and_its_result_carries_the_submissions_fields() -> None:
    submitted = task(
        generation=1764000000000,
        owner="owner-digest",
        method=Method.STATEVECTOR,
        noise=Noise(readout=0.01),
        sweep=True,
        parameters=[{"theta": 0.5}],
        overrides=["shots"],
        dialect=Dialect.OPENQASM3,
    )
    points = [PointResult(parameters={"theta": 0.5}, counts={"0": 10})]
    ran = outcome({"0": 10}, ["0"] * 10, Dialect.OPENQASM2, points)._replace(
        aer_method="statevector"
    )
    pool, view = Pool({submitted.task_id: [ran]}), View()
    result = only(run([submitted], pool, view))

    assert pool.runs == [submitted.task_id] and pool.batches == []
    assert result.task_id == submitted.task_id
    assert result.status == "completed" and result.error is None
    assert result.counts == {"0": 10} and result.memory == ["0"] * 10
    assert result.results == points
    assert result.dialect == Dialect.OPENQASM2  # as the worker read it
    assert (result.shots, result.seed) == (10, 7)
    assert result.owner == "owner-digest"
    assert result.generation == 1764000000000
    assert result.method == Method.STATEVECTOR and result.noise == Noise(readout=0.01)
    assert result.sweep is True and result.overrides == ["shots"]
    assert result.submitted_at == SUBMITTED_AT
    assert result.processor == PROCESSOR
    assert result.started_at is not None and result.finished_at >= result.started_at
    assert result.duration_ms >= 0
    # What made it: the method the worker reported, the seed, the digest of the noise asked.
    made = result.provenance
    assert made is not None and (made.method, made.seed) == ("statevector", 7)
    noise_json = Noise(readout=0.01).model_dump_json().encode()
    assert made.noise_digest == hashlib.sha256(noise_json).hexdigest()
    # The view was asked, in one call, to mark it running on this processor.
    ((entry,),) = view.claimed
    assert (entry.task_id, entry.rank, entry.generation) == (
        submitted.task_id,
        Rank.RUNNING,
        submitted.generation,
    )
    assert entry.owner == "owner-digest"
    assert b'"processor":"host:1"' in entry.doc and b'"state":"running"' in entry.doc


def test_cancelled_and_withdrawn_tasks_end_cancelled_without_running() -> None:
    cancelled, withdrawn, runs = task(), task(generation=5), task()
    control = control_table()
    cancel(control, cancelled)
    # A withdrawal stops every generation, even a replay's newer one.
    cancel(control, withdrawn, generation=0, withdrawn=True)
    pool, view = Pool(), View()
    results = run([cancelled, withdrawn, runs], pool, view, control)

    assert pool.runs == [runs.task_id] and pool.batches == []
    assert [[entry.task_id for entry in entries] for entries in view.claimed] == [[runs.task_id]]
    first, second, third = results
    assert first is not None and second is not None and third is not None
    for result, message in ((first, CANCELLED_BEFORE), (second, NOT_ACCEPTED)):
        assert result.status == "cancelled"
        assert result.error is not None
        assert (result.error.code, result.error.message) == ("cancelled", message)
        assert result.started_at is None and result.counts is None
    assert second.generation == 5
    assert third.status == "completed" and third.task_id == runs.task_id


def test_a_cancellation_stops_its_generation_and_older_ones_not_a_newer_replay() -> None:
    older, replay = task(generation=3), task(generation=4)
    control = control_table()
    cancel(control, older, generation=3)
    cancel(control, replay, generation=3)
    pool = Pool()
    results = run([older, replay], pool, control=control)

    assert pool.runs == [replay.task_id]
    assert [r.status if r else None for r in results] == ["cancelled", "completed"]


def test_a_job_with_nothing_to_run_runs_nothing() -> None:
    first, second = task(), task()
    control = control_table()
    cancel(control, first)
    cancel(control, second, withdrawn=True)
    pool = Pool()
    results = run([first, second], pool, control=control)
    assert pool.runs == [] and pool.batches == []
    assert [r.status if r else None for r in results] == ["cancelled", "cancelled"]


def test_a_redelivered_task_whose_outcome_is_known_gives_none() -> None:
    alone = task()
    assert run([alone], view=View([Claim.DONE])) == [None]

    tasks = [task(), task(), task()]
    results = run(tasks, view=View([Claim.RUN, Claim.DONE, Claim.RUN]))
    assert results[1] is None
    assert [r.task_id if r else None for r in results] == [tasks[0].task_id, None, tasks[2].task_id]
    assert all(r.status == "completed" for r in results if r is not None)


def test_the_views_cancelled_answer_ends_a_task_cancelled() -> None:
    """The log's table had not seen it, the view had: the view's claim says so."""
    for claim, message in ((Claim.CANCELLED, CANCELLED_BEFORE), (Claim.WITHDRAWN, NOT_ACCEPTED)):
        result = only(run([task()], view=View([claim])))
        assert result.status == "cancelled" and result.started_at is None
        assert result.error is not None and result.error.message == message


@pytest.mark.parametrize("error", [RedisError("down"), RedisConnectionError("gone"), OSError(113)])
def test_tasks_run_anyway_when_the_view_cannot_be_claimed(error: BaseException) -> None:
    tasks = [task(), task()]
    pool = Pool()
    results = run(tasks, pool, View(error=error))
    assert pool.batches == [[t.task_id for t in tasks]]
    assert [r.status if r else None for r in results] == ["completed", "completed"]
    assert all(r is not None and r.started_at is not None for r in results)


def test_a_worker_crash_is_retried_once() -> None:
    submitted = task()
    pool = Pool({submitted.task_id: [WorkerCrashed("died (exit code -9)"), outcome({"1": 10})]})
    result = only(run([submitted], pool))
    assert pool.runs == [submitted.task_id] * 2
    assert result.status == "completed" and result.counts == {"1": 10}


def test_a_second_crash_fails_the_task_with_worker_crashed() -> None:
    assert CRASH_ATTEMPTS == 2
    submitted = task()
    crashes: list[Step] = [WorkerCrashed("first"), WorkerCrashed("second"), outcome()]
    pool = Pool({submitted.task_id: crashes})
    result = only(run([submitted], pool))
    assert pool.runs == [submitted.task_id] * 2  # not a third time
    assert result.status == "failed" and result.error is not None
    assert (result.error.code, result.error.message) == ("worker_crashed", "second")
    assert result.counts is None and result.started_at is not None
    # A failed task says what would have made it, without a method: nothing ran to the end.
    assert result.provenance is not None and result.provenance.method is None
    assert result.provenance.seed == submitted.seed and result.provenance.noise_digest is None


@pytest.mark.parametrize(
    ("error", "status", "code", "message"),
    [
        (ProgramError("bad gate", 2, 3), "failed", "invalid_program", "line 2, column 3: bad gate"),
        (ProgramError("too many", code="limit_exceeded"), "failed", "limit_exceeded", "too many"),
        (
            ProgramError("time limit exceeded (10 ms)", code="time_limit_exceeded"),
            "failed",
            "time_limit_exceeded",
            "time limit exceeded (10 ms)",
        ),
        (TaskCancelled("stopped while running"), "cancelled", "cancelled", "stopped while running"),
        (RuntimeError("Aer said no"), "failed", "simulation_error", "Aer said no"),
        (MemoryError(), "failed", "simulation_error", "MemoryError"),
    ],
)
def test_errors_of_a_task_alone_map_to_their_codes(
    error: BaseException, status: str, code: str, message: str
) -> None:
    submitted = task(dialect=Dialect.BRAKET)
    pool = Pool({submitted.task_id: [error, outcome()]})
    result = only(run([submitted], pool))
    assert pool.runs == [submitted.task_id]  # only a crash is retried
    assert result.status == status and result.error is not None
    assert (result.error.code, result.error.message) == (code, message)
    assert result.counts is None and result.memory is None and result.results is None
    assert result.dialect == Dialect.BRAKET  # not read by a worker: the submission's
    assert result.started_at is not None


def test_a_cancellation_from_the_log_stops_the_task_while_it_runs() -> None:
    submitted = task()
    control = control_table()
    started, freed = asyncio.Event(), asyncio.Event()

    class Stoppable(Pool):
        """Runs until its cancel event is set, as the real pool does, then says so (or, if
        the test releases it first, completes: the cancellation did not reach it)."""

        async def run(self, task: TaskSubmitted, cancel: asyncio.Event) -> Outcome:
            self.runs.append(task.task_id)
            self.cancels[task.task_id] = cancel
            started.set()
            stopped, free = asyncio.create_task(cancel.wait()), asyncio.create_task(freed.wait())
            await asyncio.wait([stopped, free], return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            free.cancel()
            if cancel.is_set():
                raise TaskCancelled("stopped while running")
            return outcome()

    async def scenario() -> list[TaskResult | None]:
        running = asyncio.create_task(executing([submitted], pool, View(), control))
        waiting = asyncio.create_task(started.wait())
        # (Should the task never start, the job ends first and the assertions below fail.)
        await asyncio.wait([running, waiting], return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        cancel(control, submitted)  # the table reader takes a cancellation in
        if submitted.task_id not in pool.cancels or not pool.cancels[submitted.task_id].is_set():
            freed.set()  # it did not reach the run: let it end rather than wait for ever
        return await running

    pool = Stoppable()
    result = only(asyncio.run(scenario()))
    assert pool.cancels[submitted.task_id].is_set()
    assert result.status == "cancelled" and result.error is not None
    assert (result.error.code, result.error.message) == ("cancelled", "stopped while running")
    assert result.started_at is not None
    # Once ended, the task is no longer one the table can stop.
    assert not control.running.cancel(submitted.task_id)


def test_small_tasks_run_in_one_hop_and_their_errors_map_to_codes() -> None:
    tasks = [task(), task(dialect=Dialect.OPENQASM2), task(), task()]
    answers: list[Answer] = [
        answered(outcome({"01": 10}, dialect=Dialect.OPENQASM2)),
        Failure("invalid_program", "line 1, column 1: no"),
        Failure("out_of_memory", "the simulation ran out of memory"),
        Failure("simulation_error", "boom"),
    ]
    pool = Pool(batch=answers)
    results = run(tasks, pool)
    assert pool.batches == [[t.task_id for t in tasks]] and pool.runs == []
    assert [r.task_id if r else None for r in results] == [t.task_id for t in tasks]
    ok, invalid, memory, simulation = results
    assert ok is not None and ok.status == "completed" and ok.counts == {"01": 10}
    assert ok.dialect == Dialect.OPENQASM2
    expected = [
        (invalid, "invalid_program", "line 1, column 1: no"),
        (memory, "out_of_memory", "the simulation ran out of memory"),
        (simulation, "simulation_error", "boom"),
    ]
    for result, code, message in expected:
        assert result is not None and result.status == "failed" and result.error is not None
        assert (result.error.code, result.error.message) == (code, message)
    assert invalid is not None and invalid.dialect == Dialect.OPENQASM2


@pytest.mark.parametrize(
    "failure",
    [
        WorkerCrashed("the worker process died (exit code -9)"),
        ProgramError("time limit exceeded", code="time_limit_exceeded"),
    ],
)
def test_a_batch_whose_hop_fails_as_a_whole_runs_each_task_alone(failure: Exception) -> None:
    ok, crashes, invalid = task(), task(), task()
    steps: dict[str, list[Step]] = {
        ok.task_id: [outcome({"11": 10})],
        crashes.task_id: [WorkerCrashed("again"), WorkerCrashed("and again")],
        invalid.task_id: [ProgramError("too long", code="time_limit_exceeded")],
    }
    pool = Pool(steps, batch=failure)
    results = run([ok, crashes, invalid], pool)
    assert pool.batches == [[ok.task_id, crashes.task_id, invalid.task_id]]
    assert pool.runs == [ok.task_id, crashes.task_id, crashes.task_id, invalid.task_id]
    first, second, third = results
    assert first is not None and first.status == "completed" and first.counts == {"11": 10}
    assert second is not None and second.error is not None
    assert (second.status, second.error.code) == ("failed", "worker_crashed")
    assert third is not None and third.error is not None
    assert (third.status, third.error.code) == ("failed", "time_limit_exceeded")


def test_a_batch_keeps_its_order_around_cancelled_withdrawn_and_done_tasks() -> None:
    tasks = [task() for _ in range(5)]
    control = control_table()
    cancel(control, tasks[1])
    cancel(control, tasks[3], withdrawn=True)
    # The table lets three run, in one hop; the view knows the second of them is done.
    pool = Pool(batch=[answered(outcome({"0": n})) for n in (1, 2, 3)])
    view = View([Claim.RUN, Claim.DONE, Claim.RUN])
    results = run(tasks, pool, view, control)

    ids = [t.task_id for t in tasks]
    assert pool.batches == [[ids[0], ids[2], ids[4]]]
    assert [[entry.task_id for entry in entries] for entries in view.claimed] == [
        [ids[0], ids[2], ids[4]]
    ]
    assert [r.task_id if r else None for r in results] == [ids[0], ids[1], None, ids[3], ids[4]]
    first, cancelled, _, withdrawn, last = results
    assert first is not None and first.counts == {"0": 1}
    assert last is not None and last.counts == {"0": 3}
    assert cancelled is not None and cancelled.error is not None
    assert cancelled.error.message == CANCELLED_BEFORE
    assert withdrawn is not None and withdrawn.error is not None
    assert withdrawn.error.message == NOT_ACCEPTED
