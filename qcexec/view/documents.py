"""The view's documents: each event of the log as the view stores it (a :class:`ViewEntry`),
the task's document already in the shape GET answers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from qcexec.view.states import PENDING_MESSAGE, Rank, State
from schemas.events import TaskCancelRequested, TaskResult, TaskSubmitted

RANK_QUEUED, RANK_RUNNING, RANK_TERMINAL = Rank.QUEUED, Rank.RUNNING, Rank.TERMINAL
#: The ranks of marks (see ``store.lua``): a task cancelled, or withdrawn, up to a generation.
RANK_CANCEL_MARK, RANK_WITHDRAWN_MARK = Rank.CANCEL_MARK, Rank.WITHDRAWN_MARK


@dataclass(frozen=True)
class ViewEntry:
    task_id: str
    rank: int
    generation: int
    doc: bytes
    owner: str | None
    submitted_at: datetime

    def args(self, ttl_s: int) -> list[Any]:
        score = self.submitted_at.timestamp() * 1e6  # microseconds: newest first, few ties
        return [
            self.task_id, int(self.rank), self.generation, self.doc, self.owner or "", score, ttl_s
        ]  # fmt: skip


def _common(event: TaskSubmitted | TaskResult, state: str, **moments: Any) -> dict[str, Any]:
    doc = {
        "task_id": event.task_id,
        "state": state,
        "shots": event.shots,
        "seed": event.seed,
        "submitted_at": event.submitted_at.isoformat(),
    }
    doc |= {name: value.isoformat() for name, value in moments.items() if value is not None}
    if event.generation:
        doc["generation"] = event.generation
    if event.dialect is not None:
        doc["dialect"] = event.dialect.value
    if event.method is not None:
        doc["method"] = event.method.value
    if event.noise is not None:
        doc["noise"] = event.noise.model_dump(exclude_none=True)
    if event.overrides:
        doc["overrides"] = event.overrides
    return doc


def _entry(event: TaskSubmitted | TaskResult, rank: int, doc: dict[str, Any]) -> ViewEntry:
    return ViewEntry(
        event.task_id, rank, event.generation, orjson.dumps(doc), event.owner, event.submitted_at
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
    return _entry(event, RANK_TERMINAL, doc)
