"""Typed answers of the API. Fields the server adds later are kept (``extra="allow"``), so an
older client reads a newer server."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

State = Literal["queued", "running", "completed", "failed", "cancelled"]
TERMINAL: frozenset[str] = frozenset({"completed", "failed", "cancelled"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class Accepted(_Model):
    """A submission the log acknowledged."""

    task_id: str
    message: str = ""


class BatchItem(_Model):
    """One task of a batch: its id, or why it was not accepted (``error`` has ``status``)."""

    task_id: str | None = None
    error: dict[str, Any] | None = None


class PointResult(_Model):
    """One point of a sweep: its values, counts (with shots) and expectation values."""

    parameters: dict[str, float] | None = None
    counts: dict[str, int] | None = None
    expectation_values: list[float] | None = None
    standard_errors: list[float] | None = None
    probabilities: dict[str, float] | None = None
    statevector: list[tuple[float, float]] | None = None


class Task(_Model):
    """A task as GET /tasks/{id} answers it."""

    status: Literal["completed", "pending", "error"]
    task_id: str | None = None
    state: State | None = None
    message: str | None = None
    result: dict[str, int] | None = Field(default=None, description="Counts of one point.")
    memory: list[str] | None = None
    parameters: dict[str, float] | None = None
    expectation_values: list[float] | None = None
    standard_errors: list[float] | None = None
    probabilities: dict[str, float] | None = Field(
        default=None, description='Exact probabilities of one point (outputs "probabilities").'
    )
    statevector: list[tuple[float, float]] | None = Field(
        default=None, description='The state of one point, [re, im] pairs (outputs "statevector").'
    )
    results: list[PointResult] | None = Field(default=None, description="A sweep's points.")
    shots: int | None = None
    seed: int | None = None
    dialect: str | None = None
    method: str | None = None
    noise: dict[str, Any] | None = None
    overrides: list[str] | None = None
    submitted_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_ms: float | None = None
    processor: str | None = None
    error: dict[str, str] | None = None
    provenance: dict[str, Any] | None = Field(
        default=None,
        description="What made the result: versions, the method Aer ran with, the seed, the "
        "noise's digest, a device snapshot's name and calibration date.",
    )

    @property
    def done(self) -> bool:
        return self.state in TERMINAL if self.state else self.status != "pending"

    @property
    def points(self) -> list[PointResult]:
        """Every point in order: a sweep's ``results``, or the one point of a plain task."""
        if self.results is not None:
            return self.results
        return [
            PointResult(
                parameters=self.parameters,
                counts=self.result,
                expectation_values=self.expectation_values,
                standard_errors=self.standard_errors,
            )
        ]


class TaskPage(_Model):
    tasks: list[Task]
    next_cursor: str | None = None


class Usage(_Model):
    """What the caller used over a window (``GET /usage``): outcomes by state, shots and
    seconds of running, counted by the hour each outcome came (UTC)."""

    since: datetime
    until: datetime
    tasks: dict[str, int]
    shots: int
    run_seconds: float


class CancelAccepted(_Model):
    task_id: str
    state: State
    message: str = ""
