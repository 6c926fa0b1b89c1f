"""What the processor does with a record it cannot decode: the record goes to the dead-letter
topic with the reason, and, when its key is a task id, the task still ends: a ``failed``
outcome (``invalid_record``) is built from whatever fields of the record can be read, so that
no accepted task is left pending whatever reaches the log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import orjson
from faust.types import Message

from schemas.events import DeadLetter, TaskError, TaskResult, utcnow

#: The most of an undecodable record's value a dead letter carries.
DEAD_LETTER_VALUE_CHARS = 64 * 1024
#: The most of the decoding error a failed outcome carries.
REASON_CHARS = 2000


def dead_letter(message: Message, reason: str) -> DeadLetter:
    key = message.key
    value = message.value if isinstance(message.value, bytes) else b""
    return DeadLetter(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=key.decode(errors="replace") if isinstance(key, bytes) else None,
        value=value[:DEAD_LETTER_VALUE_CHARS].decode(errors="replace"),
        reason=reason,
        failed_at=utcnow(),
    )


def _task_id(key: object) -> str | None:
    """The record key as a task id (the API keys every submission by its UUID), or None."""
    if not isinstance(key, bytes):
        return None
    try:
        return str(uuid.UUID(key.decode()))
    except (UnicodeDecodeError, ValueError):
        return None


def _fields(value: object) -> dict[str, Any]:
    """The record's value as a JSON object, when it is one; empty otherwise."""
    if not isinstance(value, bytes):
        return {}
    try:
        fields = orjson.loads(value)
    except orjson.JSONDecodeError:
        return {}
    return fields if isinstance(fields, dict) else {}


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _time(value: object, default: datetime) -> datetime:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    return default


def invalid_record_result(message: Message, reason: str, processor: str) -> TaskResult | None:
    """The ``failed`` outcome of an undecodable submission whose key is a task id (None for
    any other key). Its owner and generation are the record's when they can be read, so that
    the task's owner sees it and a newer generation is not overwritten."""
    task_id = _task_id(message.key)
    if task_id is None:
        return None
    fields = _fields(message.value)
    owner = fields.get("owner")
    now = utcnow()
    return TaskResult(
        task_id=task_id,
        status="failed",
        error=TaskError(
            code="invalid_record",
            message=f"the task's record could not be decoded: {reason[:REASON_CHARS]}",
        ),
        shots=_count(fields.get("shots")),
        seed=_count(fields.get("seed")),
        owner=owner if isinstance(owner, str) else None,
        generation=_count(fields.get("generation")),
        submitted_at=_time(fields.get("submitted_at"), now),
        started_at=None,
        finished_at=now,
        duration_ms=0.0,
        processor=processor,
    )
