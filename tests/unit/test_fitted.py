"""A result too large for a record (processor/app.py, ``fitted``): kept as it is within the
bound, turned into a ``limit_exceeded`` failure that says its size over it. With compression
the bound counts the record as the broker keeps it: compressed."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import cramjam

from processor.app import fitted
from runtime.compression import Codec
from runtime.settings import Settings
from schemas.events import RECORD_OVERHEAD, Dialect, Method, PointResult, TaskResult

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def completed(shots: int = 40_000, memory: list[str] | None = None) -> TaskResult:
    return TaskResult(
        task_id="t-1",
        status="completed",
        counts={"00": shots // 2, "11": shots - shots // 2},
        memory=memory if memory is not None else ["00", "11"] * (shots // 2),
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


def bounded(record: int, codec: Codec = Codec.NONE, result: int = 8 * 2**20) -> Settings:
    return Settings(qc_max_record_bytes=record, qc_compression=codec, qc_max_result_bytes=result)


def zstd_size(result: TaskResult) -> int:
    return len(cramjam.zstd.compress(result.encode())) + RECORD_OVERHEAD


def random_memory(shots: int, bits: int) -> list[str]:
    draw = random.Random(7)
    return [format(draw.getrandbits(bits), f"0{bits}b") for _ in range(shots)]


def test_a_result_within_the_bound_is_kept_as_it_is() -> None:
    result = completed()
    for bound in (record_size(result), 10 * record_size(result)):  # at the bound still fits
        kept, value = fitted(result, bounded(bound))
        assert kept is result
        assert value == result.encode()
        assert TaskResult.decode(value) == result


def test_a_result_over_the_bound_becomes_a_limit_exceeded_failure() -> None:
    result = completed()
    size = record_size(result)
    bound = size - 1
    failed, value = fitted(result, bounded(bound))

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


def test_compressed_a_result_larger_than_a_record_is_kept_when_it_fits_compressed() -> None:
    result = completed(shots=200_000)  # 1 MB of "00", "11": a few kilobytes compressed
    size, bound = record_size(result), 100_000
    assert size > 10 * bound and zstd_size(result) < bound
    kept, value = fitted(result, bounded(bound, Codec.ZSTD))
    assert kept is result and value == result.encode()
    # The same result without compression does not fit.
    failed, _ = fitted(result, bounded(bound, Codec.NONE))
    assert failed.error is not None and failed.error.code == "limit_exceeded"


def test_compressed_a_result_that_does_not_fit_compressed_fails_saying_both_sizes() -> None:
    result = completed(shots=30_000, memory=random_memory(30_000, 20))
    size, compressed = record_size(result), zstd_size(result)
    bound = 65_536
    assert compressed > bound  # random bits: about 4.7 bytes a shot once compressed
    failed, value = fitted(result, bounded(bound, Codec.ZSTD))
    assert failed.error is not None and failed.error.code == "limit_exceeded"
    message = failed.error.message
    assert f"takes {size} bytes" in message and "once compressed (zstd)" in message
    assert f"at most {bound}" in message and "QC_MAX_RESULT_BYTES" in message
    assert f", {compressed} once compressed" in message
    assert TaskResult.decode(value) == failed


def test_compressed_a_result_past_the_bound_before_compression_fails_however_it_compresses() -> (
    None
):
    result = completed(shots=200_000)
    size = record_size(result)
    failed, _ = fitted(result, bounded(100_000, Codec.ZSTD, result=size - 1))
    assert failed.error is not None and failed.error.code == "limit_exceeded"
    assert f"takes {size} bytes;" in failed.error.message
    assert f"{size - 1} before" in failed.error.message
