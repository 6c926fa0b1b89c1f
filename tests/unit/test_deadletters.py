"""What the processor does with a record it cannot decode (``processor/deadletters.py``): the
dead letter carries where the record was and what it held, and a record keyed by a task id
still ends its task ``failed`` (``invalid_record``) with what of it can be read."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson
from faust.types import Message

from processor.deadletters import (
    DEAD_LETTER_VALUE_CHARS,
    REASON_CHARS,
    dead_letter,
    invalid_record_result,
)

TOPIC = "qc.submitted"


def message(key: bytes | None, value: bytes | None, offset: int = 41) -> Message:
    """A record as Faust hands it to the processor (data, read off the log)."""
    return Message(TOPIC, 3, offset, 0.0, 0, None, key, value, None)


def test_a_dead_letter_says_where_the_record_was_and_what_it_held() -> None:
    value = b"\xff not json " + b"x" * (2 * DEAD_LETTER_VALUE_CHARS)
    letter = dead_letter(message(b"some-key", value), "not JSON")
    assert (letter.topic, letter.partition, letter.offset) == (TOPIC, 3, 41)
    assert letter.key == "some-key" and letter.reason == "not JSON"
    assert letter.value.startswith("\ufffd not json ")  # undecodable bytes replaced
    assert len(letter.value) == DEAD_LETTER_VALUE_CHARS
    assert dead_letter(message(None, None), "empty").key is None


def test_a_record_not_keyed_by_a_task_id_ends_no_task() -> None:
    for key in (None, b"not-a-uuid", b"\xff\xfe"):
        assert invalid_record_result(message(key, b"{}"), "bad", "p") is None


def test_an_undecodable_submission_ends_its_task_failed() -> None:
    task_id = str(uuid.uuid4())
    result = invalid_record_result(message(task_id.encode(), b"\x00garbage"), "x" * 5000, "p1")
    assert result is not None and result.task_id == task_id
    assert result.status == "failed" and result.error is not None
    assert result.error.code == "invalid_record"
    assert result.error.message.endswith("x" * REASON_CHARS)
    assert len(result.error.message) < REASON_CHARS + 100
    assert (result.shots, result.seed, result.generation, result.owner) == (0, 0, 0, None)
    assert result.started_at is None and result.processor == "p1"


def test_what_can_be_read_of_the_record_is_kept() -> None:
    """The owner sees its task, and a newer generation is not overwritten by an older one."""
    task_id = str(uuid.uuid4())
    submitted = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    fields = {
        "task_id": task_id, "owner": "digest", "generation": 17, "shots": 100, "seed": 5,
        "submitted_at": submitted.isoformat(), "qasm": 12,  # the field that broke it
    }  # fmt: skip
    result = invalid_record_result(message(task_id.encode(), orjson.dumps(fields)), "qasm", "p")
    assert result is not None
    assert (result.owner, result.generation, result.shots, result.seed) == ("digest", 17, 100, 5)
    assert result.submitted_at == submitted
    # Values of the wrong kind are not trusted: counts become 0, the owner none.
    odd = {"owner": 5, "generation": -3, "shots": True, "seed": "7", "submitted_at": "yesterday"}
    result = invalid_record_result(message(task_id.encode(), orjson.dumps(odd)), "odd", "p")
    assert result is not None
    assert (result.owner, result.generation, result.shots, result.seed) == (None, 0, 0, 0)
    assert result.submitted_at.tzinfo is not None  # now, not the unreadable value
