"""The contracts on the log: models, their JSON Schema files, versioning and the view entries."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from pydantic import ValidationError

from qcexec.view import result_entry, submitted_entry
from schemas.__main__ import rendered
from schemas.events import TaskError, TaskResult, TaskSubmitted

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
SUBMITTED = TaskSubmitted(task_id="t1", qasm="OPENQASM 3.0;", shots=10, seed=1, submitted_at=NOW)


def result(**fields: object) -> TaskResult:
    base = dict(
        task_id="t1", shots=10, seed=1, submitted_at=NOW, started_at=NOW, finished_at=NOW,
        duration_ms=1.5, processor="p",
    )  # fmt: skip
    return TaskResult(**(base | fields))


def test_json_schema_files_match_the_models() -> None:
    for path, content in rendered().items():
        assert path.exists(), f"{path.name} missing: run python -m schemas"
        assert path.read_bytes() == content, f"{path.name} is stale: run python -m schemas"


def test_round_trip_and_headers() -> None:
    assert TaskSubmitted.decode(SUBMITTED.encode()) == SUBMITTED
    assert dict(SUBMITTED.headers())["schema"] == b"qc.submitted/v1"


def test_a_v1_consumer_reads_a_record_with_an_added_optional_field() -> None:
    record = orjson.loads(SUBMITTED.encode()) | {"priority": "high", "labels": {"team": "a"}}
    assert TaskSubmitted.decode(orjson.dumps(record)) == SUBMITTED


def test_completed_needs_counts_and_failed_needs_an_error() -> None:
    with pytest.raises(ValidationError):
        result(status="completed")
    with pytest.raises(ValidationError):
        result(status="failed")


def test_view_entries_have_the_original_response_shapes() -> None:
    pending = orjson.loads(submitted_entry(SUBMITTED).doc)
    assert pending["status"] == "pending" and pending["message"] == "Task is still in progress."
    done = orjson.loads(result_entry(result(status="completed", counts={"0": 10})).doc)
    assert done["status"] == "completed" and done["result"] == {"0": 10}
    error = TaskError(code="time_limit_exceeded", message="time limit exceeded (10 ms)")
    failed = orjson.loads(result_entry(result(status="failed", error=error)).doc)
    assert failed["status"] == "error" and failed["state"] == "failed"
    assert failed["message"] == "Task failed: time limit exceeded (10 ms)"
    assert failed["error"]["code"] == "time_limit_exceeded"
