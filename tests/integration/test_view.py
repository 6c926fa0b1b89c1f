"""The view on a real Redis: idempotent, never backwards, offsets written with the documents."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from redis.asyncio import Redis

from runtime.view import (
    RebuildInProgress,
    TaskView,
    result_entry,
    running_entry,
    submitted_entry,
)
from schemas.events import TaskError, TaskResult, TaskSubmitted
from tests.services import Services

NOW = datetime(2026, 1, 2, tzinfo=UTC)


def events(task_id: str) -> tuple[TaskSubmitted, TaskResult, TaskResult]:
    submitted = TaskSubmitted(task_id=task_id, qasm="x", shots=10, seed=1, submitted_at=NOW)
    common = dict(
        task_id=task_id, shots=10, seed=1, submitted_at=NOW, started_at=NOW, finished_at=NOW,
        duration_ms=1.0, processor="p",
    )  # fmt: skip
    completed = TaskResult(status="completed", counts={"0": 10}, **common)
    failed = TaskResult(
        status="failed", error=TaskError(code="worker_crashed", message="late"), **common
    )
    return submitted, completed, failed


def run_with_view(services: Services, check) -> None:
    async def main() -> None:
        redis = Redis.from_url(services.redis_url)
        try:
            await check(TaskView(redis, prefix=f"t{uuid.uuid4().hex[:8]}:"))
        finally:
            await redis.aclose()

    asyncio.run(main())


def test_first_terminal_result_wins_and_pending_never_overwrites(real_services) -> None:
    async def check(view: TaskView) -> None:
        submitted, completed, late_failure = events("a")
        assert await view.apply(submitted_entry(submitted))
        assert await view.apply(result_entry(completed))
        assert not await view.apply(result_entry(late_failure))  # a late duplicate
        assert not await view.apply(submitted_entry(submitted))  # a replayed submission
        doc = orjson.loads((await view.get("a")).doc)
        assert doc["status"] == "completed" and doc["result"] == {"0": 10}

    run_with_view(real_services, check)


def test_result_before_submission_stays_terminal(real_services) -> None:
    async def check(view: TaskView) -> None:
        submitted, completed, _ = events("b")
        await view.apply_batch([result_entry(completed), submitted_entry(submitted)], {"r:0": 5})
        assert (await view.get("b")).state == "completed"
        assert await view.offsets() == {"r:0": 5}

    run_with_view(real_services, check)


def test_unknown_task_is_none(real_services) -> None:
    async def check(view: TaskView) -> None:
        assert await view.get("nope") is None

    run_with_view(real_services, check)


def test_withdrawn_submission_is_never_claimed_to_run(real_services) -> None:
    async def check(view: TaskView) -> None:
        submitted, _, _ = events("w")
        await view.withdraw([submitted])
        assert await view.get("w") is None  # nothing to show until its record arrives
        assert (await view.page(None, 10, None, None))[0] == []
        assert await view.apply(submitted_entry(submitted))  # the record arrives after all
        assert (await view.get("w")).state == "queued"
        assert await view.claim(running_entry(submitted, NOW, "p")) == "withdrawn"
        assert (await view.get("w")).state == "queued"  # not marked running
        # The client was told it was not accepted: a replay's newer generation does not run
        # it either.
        replayed = submitted.model_copy(update={"generation": 1})
        assert await view.claim(running_entry(replayed, NOW, "p")) == "withdrawn"

    run_with_view(real_services, check)


def test_one_view_built_at_a_time_and_a_lapsed_mark_stops_its_rebuild(real_services) -> None:
    async def check(view: TaskView) -> None:
        await view.start_building(f"{view.prefix}v1:")
        with pytest.raises(RebuildInProgress, match="another rebuild"):
            await view.start_building(f"{view.prefix}v2:")
        await view.keep_building(f"{view.prefix}v1:")
        with pytest.raises(RebuildInProgress, match="lapsed"):
            await view.keep_building(f"{view.prefix}v2:")
        await view.redis.delete(f"{view.prefix}building")  # as when the mark expires
        with pytest.raises(RebuildInProgress, match="lapsed"):
            await view.keep_building(f"{view.prefix}v1:")

    run_with_view(real_services, check)


def test_a_rebuilt_view_keeps_cancellations_and_withdrawals(real_services, monkeypatch) -> None:
    monkeypatch.setattr("runtime.view.lifecycle.SCAN_BATCH", 1)  # a batch per task: several batches

    async def check(view: TaskView) -> None:
        cancelled, _, _ = events("c")
        withdrawn, _, _ = events("w")
        await view.apply(submitted_entry(cancelled))
        assert (await view.request_cancel("c", None))[0] == 0  # queued, now cancelled
        await view.withdraw([withdrawn])
        target = f"{view.prefix}v9:"
        await view.start_building(target)
        # What the rebuild reads from the log: the submissions, no cancellation.
        entries = [submitted_entry(cancelled), submitted_entry(withdrawn)]
        await view.apply_batch(entries, {}, view=target)
        assert await view.switch(target) == view.prefix
        assert await view.claim(running_entry(cancelled, NOW, "p")) == "cancelled"
        assert await view.claim(running_entry(withdrawn, NOW, "p")) == "withdrawn"

    run_with_view(real_services, check)


def test_the_backlog_of_each_owner_follows_queued_and_terminal_outcomes(real_services) -> None:
    """An owner's tasks waiting (what the API bounds, and what the oldest-pending alert reads)
    are counted when the view stores a queued task and no longer once it stores its outcome,
    whoever writes them (the API's write-through, the processor's, the materializer)."""

    async def check(view: TaskView) -> None:
        first, done, _ = events("b1")
        later = first.model_copy(update={"task_id": "b2", "submitted_at": NOW.replace(hour=5)})
        assert await view.waiting(None, 10**9) == 0 and await view.oldest_waiting() is None
        await view.apply_batch([submitted_entry(first), submitted_entry(later)], {})
        assert await view.waiting(None, 10**9) == 2
        assert await view.oldest_waiting() == NOW.timestamp()
        await view.apply(result_entry(done))
        await view.apply(submitted_entry(first))  # a late duplicate of the queued state
        assert await view.waiting(None, 10**9) == 1
        assert await view.oldest_waiting() == later.submitted_at.timestamp()
        assert await view.waiting("someone-else", 10**9) == 0
        # Entries older than the expiry no longer count.
        assert await view.waiting(None, 1.0) == 0

    run_with_view(real_services, check)


def test_usage_counts_an_outcome_once_and_a_new_generation_again(real_services) -> None:
    """runtime/view/usage.py: counted in the step that writes the outcome, only when it moves
    the task forward; a replay's outcome (a newer generation) is a new run and counts."""

    async def check(view: TaskView) -> None:
        submitted, completed, late_failure = events("u")
        owned = submitted.model_copy(update={"owner": "o1"})
        await view.apply(submitted_entry(owned))
        window = (NOW, NOW)
        assert (await view.usage("o1", *window)).tasks["completed"] == 0
        assert await view.apply(result_entry(completed))
        for again in (completed, late_failure, completed):  # read again, a late duplicate
            assert not await view.apply(result_entry(again))
        once = await view.usage("o1", *window)
        assert once.tasks == {"completed": 1, "failed": 0, "cancelled": 0}
        assert once.shots == 10 and once.run_seconds == 0.001
        assert (await view.usage("someone else", *window)).shots == 0
        replayed = completed.model_copy(update={"generation": 1, "duration_ms": 2.0})
        assert await view.apply(result_entry(replayed))
        twice = await view.usage("o1", *window)
        assert twice.tasks["completed"] == 2 and twice.shots == 20 and twice.run_seconds == 0.003
        # Counted by the hour of the outcome: the hour before holds nothing.
        earlier = NOW - timedelta(hours=1)
        assert (await view.usage("o1", earlier, earlier)).shots == 0

    run_with_view(real_services, check)
