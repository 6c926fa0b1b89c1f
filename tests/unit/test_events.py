"""The contracts on the log: models, their JSON Schema files, versioning and the view entries."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
import yaml
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from runtime.view import result_entry, submitted_entry
from schemas.__main__ import ASYNCAPI, rendered
from schemas.events import (
    DeadLetter,
    Event,
    TaskCancelRequested,
    TaskError,
    TaskResult,
    TaskSubmitted,
)
from schemas.topics import Topics

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


def test_a_record_from_before_generations_reads_as_generation_0() -> None:
    record = orjson.loads(SUBMITTED.encode())
    del record["generation"]
    assert TaskSubmitted.decode(orjson.dumps(record)).generation == 0


def _examples() -> list[Event]:
    failed = result(status="failed", error=TaskError(code="invalid_program", message="line 1"))
    return [
        SUBMITTED,
        SUBMITTED.model_copy(update={"generation": 1764000000000, "memory": True}),
        result(status="completed", counts={"00": 6, "11": 4}, generation=3),
        failed,
        TaskCancelRequested(task_id="t1", requested_at=NOW),
        DeadLetter(
            topic="qc.submitted",
            partition=0,
            offset=7,
            key=None,
            value="{",
            reason="bad JSON",
            failed_at=NOW,
        ),
    ]


def test_asyncapi_document_describes_every_topic_and_validates_real_records() -> None:
    document = yaml.safe_load(ASYNCAPI.read_text())
    assert document["asyncapi"].startswith("3.")
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert addresses == {spec.name for spec in Topics().specs()}
    messages = document["components"]["messages"]
    for event in _examples():
        name = type(event).model_fields["event"].default
        (message,) = [m for m in messages.values() if m["title"] == f"{name} v{event.version}"]
        root = {"components": document["components"]}
        payload = Draft202012Validator(root | message["payload"])
        payload.validate(orjson.loads(event.encode()))
        headers = {key: value.decode() for key, value in event.headers()}
        Draft202012Validator(message["headers"]).validate(headers)
    broken = orjson.loads(SUBMITTED.encode()) | {"shots": -1}
    (submitted,) = [m for m in messages.values() if m["title"] == "qc.submitted v1"]
    assert not Draft202012Validator(
        {"components": document["components"]} | submitted["payload"]
    ).is_valid(broken)


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
