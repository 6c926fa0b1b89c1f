"""Request and response bodies of the HTTP API (the original service's shapes, kept exactly)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

BELL = """OPENQASM 3.0;
include "stdgates.inc";
bit[2] c;
qubit[2] q;
h q[0];
cx q[0], q[1];
c[0] = measure q[0];
c[1] = measure q[1];
"""

MAX_SEED = 2**32 - 1


class TaskRequest(BaseModel):
    qc: str = Field(description="An OpenQASM 3 program.", examples=[BELL])
    shots: int | None = Field(
        default=None, ge=1, description="Number of shots; the server's default when omitted."
    )
    seed: int | None = Field(
        default=None,
        ge=0,
        le=MAX_SEED,
        description="Simulator seed: the same seed gives the same counts. Chosen when omitted.",
    )
    memory: bool = Field(
        default=False, description="Also return each shot's outcome (`memory`), in order."
    )


class TaskAccepted(BaseModel):
    task_id: str
    message: str = "Task submitted successfully."


class ProgramErrorDetail(BaseModel):
    line: int | None
    column: int | None
    message: str


class InvalidProgram(BaseModel):
    detail: str = "QASM3 code is not valid"
    errors: list[ProgramErrorDetail]


class TaskStatus(BaseModel):
    """``completed`` with ``result``, ``pending`` with ``message``, or ``error`` with
    ``message`` (a failed or cancelled task: also ``error``); extra fields sit beside them."""

    status: Literal["completed", "pending", "error"] = Field(examples=["completed"])
    result: dict[str, int] | None = Field(
        default=None, description="Counts by Qiskit bit string.", examples=[{"00": 507, "11": 517}]
    )
    memory: list[str] | None = Field(default=None, description="Each shot's outcome, if asked.")
    message: str | None = Field(default=None, examples=["Task is still in progress."])
    task_id: str | None = None
    state: Literal["queued", "running", "completed", "failed", "cancelled"] | None = None
    shots: int | None = None
    seed: int | None = None
    submitted_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_ms: float | None = Field(default=None, description="Time spent running the task.")
    processor: str | None = Field(default=None, description="The processor that ran it.")
    generation: int | None = Field(
        default=None,
        description="Set once `qcexec replay` ran the task again: the replay's generation.",
    )
    error: dict[str, str] | None = Field(
        default=None, examples=[{"code": "time_limit_exceeded", "message": "..."}]
    )


class TaskList(BaseModel):
    tasks: list[TaskStatus]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


class BatchRequest(BaseModel):
    tasks: list[dict[str, Any]] = Field(
        description="Task requests, each shaped like the body of POST /tasks and validated on "
        "its own.",
        examples=[[{"qc": BELL, "shots": 100}, {"qc": "OPENQASM 3.0; bad", "shots": 10}]],
    )


class BatchItem(BaseModel):
    task_id: str | None = None
    error: dict[str, Any] | None = Field(
        default=None, description="Why this one was not accepted: its HTTP status and detail."
    )


class BatchAccepted(BaseModel):
    tasks: list[BatchItem] = Field(description="One item per request, in the same order.")


class CancelAccepted(BaseModel):
    task_id: str
    state: Literal["queued", "running"] = Field(description="The task's state when asked.")
    message: str


class Problem(BaseModel):
    detail: str
