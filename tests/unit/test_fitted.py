"""A result too large for a record (processor/app.py, ``fitted``): kept as it is within the
bound, turned into a ``limit_exceeded`` failure that says its size over it."""

from __future__ import annotations

from datetime import UTC, datetime

from processor.app import fitted
from schemas.events import RECORD_OVERHEAD, Dialect, Method, PointResult, TaskResult

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def completed(shots: int = 1000) -> TaskResult:
    return TaskResult(
        task_id="t-1",
        status="completed",
        counts={"00": shots // 2, "11": shots - shots // 2},
        memory=["00", "11"] * (shots // 2),
        results=[PointResult(parameters={"theta": 0.5}, counts={"00": 1})],
        shots=shots,
        seed=3,
        dialect=Dialect.OPENQASM3,
        method=Method.STATEVECTOR,
        owner="owner-digest",
        generation=12,
        submitted_at=NOW,
        started_at=NOW,
        finished_at=NOW,
        duration_ms=4.5,
        processor="host:1",
    )


def record_size(result: TaskResult) -> int:
    return len(result.encode()) + RECORD_OVERHEAD


def test_a_result_within_the_bound_is_kept_as_it_is() -> None:
    result = completed()
    for bound in (record_size(result), 10 * record_size(result)):  # at the bound still fits
        kept, value = fitted(result, bound)
        assert kept is result
        assert value == result.encode()
        assert TaskResult.decode(value) == result


def test_a_result_over_the_bound_becomes_a_limit_exceeded_failure() -> None:
    result = completed()
    size = record_size(result)
    bound = size - 1
    failed, value = fitted(result, bound)

    assert failed.status == "failed" and failed.error is not None
    assert failed.error.code == "limit_exceeded"
    assert f"takes {size} bytes" in failed.error.message
    assert f"at most {bound}" in failed.error.message
    assert "QC_MAX_RECORD_BYTES" in failed.error.message
    assert failed.counts is None and failed.memory is None and failed.results is None
    # Everything else is the task's, as it was.
    same = set(TaskResult.model_fields) - {"status", "counts", "memory", "results", "error"}
    assert {name: getattr(failed, name) for name in same} == {
        name: getattr(result, name) for name in same
    }
    # Its encoding is what goes on the log: it decodes back to the failure, and it fits.
    assert TaskResult.decode(value) == failed
    assert len(value) + RECORD_OVERHEAD <= bound
