"""The view's documents are encoded straight from the events' values (runtime/view/documents.py,
``_document``), not through :class:`TaskStatus`: these are the same bytes, field for field and
in the same order, as the model's own dump gave, for every kind of document."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from runtime.view import documents
from runtime.view.documents import TaskStatus
from schemas.events import (
    Dialect,
    Method,
    PointResult,
    Provenance,
    TaskCancelRequested,
    TaskError,
    TaskResult,
    TaskSubmitted,
)
from schemas.options import Depolarizing, Noise

NOW = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
NOISE = Noise(depolarizing=Depolarizing(one_qubit=0.01), readout=0.02)
PROVENANCE = Provenance(
    service="1.0", qiskit="2.0", qiskit_aer="0.17", method="statevector", seed=7
)


def the_models_dump(**fields: Any) -> bytes:
    """How the documents were encoded before: through the model."""
    return orjson.dumps(TaskStatus.model_construct(**fields).model_dump(exclude_none=True))


def submitted(**fields: Any) -> TaskSubmitted:
    base: dict[str, Any] = dict(
        task_id="t1", qasm="OPENQASM 3.0;", shots=10, seed=1, submitted_at=NOW
    )
    return TaskSubmitted(**(base | fields))


def result(**fields: Any) -> TaskResult:
    base: dict[str, Any] = dict(
        task_id="t1",
        shots=10,
        seed=1,
        submitted_at=NOW,
        started_at=NOW + timedelta(milliseconds=3),
        finished_at=NOW + timedelta(milliseconds=9),
        duration_ms=6.12345,
        processor="host:1",
        dialect=Dialect.OPENQASM3,
    )
    return TaskResult(**(base | fields))


POINTS = [
    PointResult(parameters={"theta": 0.5}, counts={"00": 6, "11": 4}),
    PointResult(
        parameters={"theta": 1.5},
        counts={"01": 10},
        expectation_values=[0.25, -1.0],
        standard_errors=[0.01, 0.0],
        probabilities={"00": 0.5, "11": 0.5},
        statevector=[(0.7071067811865476, 0.0), (0.0, -0.7071067811865476)],
    ),
]

ENTRIES = {
    "queued": lambda: documents.submitted_entry(submitted()),
    "queued with options": lambda: documents.submitted_entry(
        submitted(method=Method.STATEVECTOR, noise=NOISE, owner="o", generation=2)
    ),
    "running": lambda: documents.running_entry(submitted(noise=NOISE), NOW, "host:1"),
    "completed": lambda: documents.result_entry(result(status="completed", counts={"0": 10})),
    "completed with memory and provenance": lambda: documents.result_entry(
        result(
            status="completed",
            counts={"00": 1, "11": 1},
            memory=["00", "11"],
            provenance=PROVENANCE,
            noise=NOISE,
            method=Method.STATEVECTOR,
        )
    ),
    "one point": lambda: documents.result_entry(
        result(status="completed", counts={"01": 10}, results=POINTS[1:])
    ),
    "sweep": lambda: documents.result_entry(
        result(status="completed", counts={"00": 6, "11": 4}, results=POINTS, sweep=True)
    ),
    "failed": lambda: documents.result_entry(
        result(status="failed", error=TaskError(code="limit_exceeded", message="too large"))
    ),
    "cancelled before it ran": lambda: documents.result_entry(
        result(
            status="cancelled",
            started_at=None,
            error=TaskError(code="cancelled", message="cancelled"),
            generation=3,
            overrides=["shots"],
        )
    ),
    "a mark": lambda: documents.mark_entry(
        TaskCancelRequested(task_id="t1", requested_at=NOW, generation=1)
    ),
}


@pytest.mark.parametrize("kind", ENTRIES)
def test_each_document_is_the_bytes_the_model_gave(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[dict[str, Any]] = []
    encode = documents._document

    def spy(**fields: Any) -> bytes:
        seen.append(fields)
        return encode(**fields)

    monkeypatch.setattr(documents, "_document", spy)
    entry = ENTRIES[kind]()
    if kind == "a mark":
        assert entry.doc == b"" and not seen  # marks have no document
        return
    (fields,) = seen
    assert entry.doc == the_models_dump(**fields)
    TaskStatus.model_validate_json(entry.doc)  # and GET's model reads it
