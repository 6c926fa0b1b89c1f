"""Request and response bodies of the HTTP API (the original service's shapes, kept exactly)."""

from __future__ import annotations

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
    ``message`` (a failed task: also ``error``); extra fields sit beside them."""

    status: str = Field(examples=["completed"])
    result: dict[str, int] | None = Field(default=None, examples=[{"00": 507, "11": 517}])
    message: str | None = None
    task_id: str | None = None
    state: str | None = Field(default=None, examples=["completed"])


class Problem(BaseModel):
    detail: str
