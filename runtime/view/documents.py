"""The view's documents: each event of the log as the view stores it (a :class:`ViewEntry`),
the task's document already in the shape GET answers. :class:`TaskStatus` is that shape, used
both to build every document here and to describe GET's answer in the API's OpenAPI."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, Field

from runtime.view.states import PENDING_MESSAGE, Rank, State
from runtime.view.usage import usage_arg
from schemas.events import (
    REPEATED_FIELDS,
    Method,
    Noise,
    Provenance,
    TaskCancelRequested,
    TaskResult,
    TaskSubmitted,
)

RANK_QUEUED, RANK_RUNNING, RANK_TERMINAL = Rank.QUEUED, Rank.RUNNING, Rank.TERMINAL
#: The ranks of marks (see ``store.lua``): a task cancelled, or withdrawn, up to a generation.
RANK_CANCEL_MARK, RANK_WITHDRAWN_MARK = Rank.CANCEL_MARK, Rank.WITHDRAWN_MARK


class TaskStatus(BaseModel):
    """``completed`` with ``result``, ``pending`` with ``message``, or ``error`` with
    ``message`` (a failed or cancelled task: also ``error``); extra fields sit beside them."""

    status: Literal["completed", "pending", "error"] = Field(
        description="The original service's status: pending until the task is terminal; error "
        "for a failed or cancelled task.",
        examples=["completed"],
    )
    result: dict[str, int] | None = Field(
        default=None, description="Counts by Qiskit bit string.", examples=[{"00": 507, "11": 517}]
    )
    memory: list[str] | None = Field(default=None, description="Each shot's outcome, if asked.")
    message: str | None = Field(
        default=None,
        description="For pending and error: what to tell a person.",
        examples=["Task is still in progress."],
    )
    task_id: str | None = Field(default=None, description="The task's id.")
    state: Literal["queued", "running", "completed", "failed", "cancelled"] | None = Field(
        default=None,
        description="The lifecycle: queued, then running on a processor, then one terminal state.",
        examples=["running"],
    )
    shots: int | None = Field(default=None, description="Shots run.", examples=[1024])
    seed: int | None = Field(
        default=None, description="The simulator seed (chosen at submit if none was given)."
    )
    submitted_at: datetime | None = Field(default=None, description="Accepted (UTC, ISO 8601).")
    started_at: datetime | None = Field(
        default=None, description="A processor started it (absent if cancelled before)."
    )
    finished_at: datetime | None = Field(default=None, description="It reached its outcome.")
    duration_ms: float | None = Field(default=None, description="Time spent running the task.")
    processor: str | None = Field(default=None, description="The processor that ran it.")
    generation: int | None = Field(
        default=None,
        description="Set once `qcexec replay` ran the task again: the replay's generation.",
    )
    error: dict[str, str] | None = Field(
        default=None,
        description="For failed and cancelled tasks: a code (invalid_program, limit_exceeded, "
        "time_limit_exceeded, out_of_memory, simulation_error, worker_crashed, cancelled, "
        "invalid_record) and a message.",
        examples=[{"code": "time_limit_exceeded", "message": "time limit exceeded (300000 ms)"}],
    )
    dialect: Literal["openqasm2", "openqasm3", "braket"] | None = Field(
        default=None, description="The language the program was read as."
    )
    method: Method | None = Field(default=None, description="The method asked, if any.")
    noise: Noise | None = Field(default=None, description="The noise asked, if any.")
    overrides: list[str] | None = Field(
        default=None,
        description="Set when a replay ran the task again with other settings: the fields it "
        "replaced (method, noise, shots).",
    )
    parameters: dict[str, float] | None = Field(
        default=None, description="One point's parameter values (a task of one point)."
    )
    expectation_values: list[float] | None = Field(
        default=None, description="One point's expectation values, one per observable."
    )
    standard_errors: list[float] | None = Field(
        default=None, description="Their standard errors (0 when exact)."
    )
    probabilities: dict[str, float] | None = Field(
        default=None, description='Exact probabilities of the measured bits (`"probabilities"`).'
    )
    statevector: list[tuple[float, float]] | None = Field(
        default=None, description='The state before the final measurements (`"statevector"`).'
    )
    provenance: Provenance | None = Field(
        default=None,
        description="What made the result: the versions of the service, Qiskit and Aer, the "
        "method Aer ran with, the seed, the noise's digest, a device snapshot's name and "
        "calibration date.",
    )
    results: list[dict[str, Any]] | None = Field(
        default=None,
        description="A sweep's outcome, one object per point in the order of the request: "
        "`parameters`, `counts`, `expectation_values`, `standard_errors`, `probabilities`, "
        "`statevector` (those asked).",
    )


#: The document's fields in :class:`TaskStatus`'s order (the order its JSON has always had).
_FIELDS = tuple(TaskStatus.model_fields)


def _plain(value: Any) -> Any:
    return value.model_dump(exclude_none=True) if isinstance(value, BaseModel) else value


def _document(**fields: Any) -> bytes:
    """A task's document as GET answers it: the fields of :class:`TaskStatus` that are set, in
    its order, each as ``TaskStatus(...).model_dump(exclude_none=True)`` would give it (a
    nested model without its unset fields; dicts and lists as they are), encoded by orjson
    straight from the values: a sweep's hundred points are not copied through the model
    first (tests/unit/test_documents.py holds the two ways to the same bytes)."""
    unknown = fields.keys() - TaskStatus.model_fields.keys()
    assert not unknown, f"not fields of TaskStatus: {unknown}"
    return orjson.dumps(
        {name: _plain(fields[name]) for name in _FIELDS if fields.get(name) is not None}
    )


#: What one entry of the view is to the Lua scripts (``store.lua``): these values, in order.
ENTRY_LAYOUT = ("task_id", "rank", "generation", "doc", "owner", "score", "ttl", "usage")


@dataclass(frozen=True)
class ViewEntry:
    task_id: str
    rank: int
    generation: int
    doc: bytes
    owner: str | None
    submitted_at: datetime
    #: An outcome's contribution to its owner's usage (runtime/view/usage.py), '' for none.
    usage: str = ""

    def args(self, ttl_s: int) -> list[Any]:
        score = self.submitted_at.timestamp() * 1e6  # microseconds: newest first, few ties
        values = {
            "task_id": self.task_id,
            "rank": int(self.rank),
            "generation": self.generation,
            "doc": self.doc,
            "owner": self.owner or "",
            "score": score,
            "ttl": ttl_s,
            "usage": self.usage,
        }
        return [values[name] for name in ENTRY_LAYOUT]


#: The submission's fields a task's document shows, from its submission or its result: those
#: every record of the task repeats that GET answers (absent while unset; a generation of 0,
#: the first, is not shown).
SHOWN_FIELDS = tuple(name for name in REPEATED_FIELDS if name in TaskStatus.model_fields)


def _common(event: TaskSubmitted | TaskResult, state: str, **moments: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"state": state}
    for name in SHOWN_FIELDS:
        value = getattr(event, name)
        if value is not None and (value or name not in ("generation", "overrides")):
            doc[name] = value
    doc |= {name: value for name, value in moments.items() if value is not None}
    return doc


def _entry(event: TaskSubmitted | TaskResult, rank: int, doc: dict[str, Any]) -> ViewEntry:
    return ViewEntry(
        event.task_id, rank, event.generation, _document(**doc), event.owner, event.submitted_at
    )


def mark_entry(event: TaskCancelRequested) -> ViewEntry:
    """A cancellation or withdrawal from the log, as the view records it (marks only: the
    task's document is left as it is; the processor ends such a task ``cancelled``)."""
    rank = RANK_WITHDRAWN_MARK if event.withdrawn else RANK_CANCEL_MARK
    return ViewEntry(event.task_id, rank, event.generation, b"", None, event.requested_at)


def submitted_entry(event: TaskSubmitted) -> ViewEntry:
    doc = {"status": "pending", "message": PENDING_MESSAGE, **_common(event, State.QUEUED)}
    return _entry(event, RANK_QUEUED, doc)


def running_entry(event: TaskSubmitted, started_at: datetime, processor: str) -> ViewEntry:
    doc = {
        "status": "pending",
        "message": PENDING_MESSAGE,
        **_common(event, State.RUNNING, started_at=started_at),
        "processor": processor,
    }
    return _entry(event, RANK_RUNNING, doc)


def result_entry(event: TaskResult) -> ViewEntry:
    doc: dict[str, Any]
    if event.status == "completed" and event.sweep and event.results is not None:
        doc = {
            "status": "completed",
            "results": [point.model_dump(exclude_none=True) for point in event.results],
        }
    elif event.status == "completed":
        doc = {"status": "completed", "result": event.counts}
        if event.memory is not None:
            doc["memory"] = event.memory
        if event.results:  # one point, with parameters or observables: its fields beside
            point = event.results[0].model_dump(exclude_none=True, exclude={"counts"})
            doc |= point
    else:
        assert event.error is not None
        verb = "failed" if event.status == "failed" else "cancelled"
        doc = {
            "status": "error",
            "message": f"Task {verb}: {event.error.message}",
            "error": event.error.model_dump(),
        }
    doc |= _common(event, event.status, started_at=event.started_at, finished_at=event.finished_at)
    doc |= {"duration_ms": round(event.duration_ms, 3), "processor": event.processor}
    if event.provenance is not None:
        doc["provenance"] = event.provenance
    ran = event.started_at is not None
    usage = usage_arg(
        event.finished_at, event.status, event.shots if ran else 0, event.duration_ms if ran else 0
    )
    return replace(_entry(event, RANK_TERMINAL, doc), usage=usage)
