"""The records on the log: one model per topic, each carrying its event name and version.

Versioning rule: a change that only adds optional fields keeps the version; consumers ignore
fields they do not know (``extra="ignore"``). Anything else is a new version.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal, Self

import orjson
from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.options import Depolarizing, Dialect, Method, Noise, Output

__all__ = [
    "EVENT_MODELS",
    "REPEATED_FIELDS",
    "DeadLetter",
    "Depolarizing",
    "Dialect",
    "ErrorCode",
    "Event",
    "Method",
    "Noise",
    "Output",
    "PointResult",
    "Provenance",
    "TaskCancelRequested",
    "TaskError",
    "TaskResult",
    "TaskSubmitted",
    "repeated",
    "result_size_bound",
    "utcnow",
]  # fmt: skip

ErrorCode = Literal[
    "invalid_program",
    "limit_exceeded",
    "time_limit_exceeded",
    "out_of_memory",
    "simulation_error",
    "worker_crashed",
    "cancelled",
    #: The submission's record could not be decoded (it went to the dead-letter topic).
    "invalid_record",
]


CONTENT_TYPE = b"application/json"
#: The W3C trace context headers a record may carry (https://www.w3.org/TR/trace-context/).
TRACE_HEADERS = ("traceparent", "tracestate")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    def encode(self) -> bytes:
        return orjson.dumps(self.model_dump())

    @classmethod
    def decode(cls, raw: bytes | str) -> Self:
        """Raises ``orjson.JSONDecodeError`` or ``pydantic.ValidationError`` on a bad record."""
        return cls.model_validate(orjson.loads(raw))

    def headers(self, trace: Mapping[str, str] | None = None) -> list[tuple[str, bytes]]:
        """Record headers: what a consumer can route on without decoding the value, and the
        W3C trace context (``traceparent``, ``tracestate``) of the task's trace when given
        one (a carrier filled by OpenTelemetry's propagator, see runtime/telemetry.py)."""
        fields = type(self).model_fields
        event, version = fields["event"].default, fields["version"].default
        headers = [
            ("content-type", CONTENT_TYPE),
            ("schema", f"{event}/v{version}".encode()),
        ]
        for name in TRACE_HEADERS:
            if trace and trace.get(name):
                headers.append((name, trace[name].encode()))
        return headers


class TaskSubmitted(Event):
    """An accepted submission, on ``qc.submitted``, keyed by ``task_id``. Its numbers are
    finite (JSON has no NaN or infinity: a record holding one could not be decoded)."""

    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)

    event: Literal["qc.submitted"] = "qc.submitted"
    version: Literal[1] = 1
    task_id: str = Field(description="UUID of the task, also the record key.")
    qasm: str = Field(description="The program as submitted (OpenQASM 2 or 3).")
    parameters: list[dict[str, float]] | None = Field(
        default=None,
        description="Values of the program's inputs (``input float theta;``): one object per "
        "point of a sweep, in order; None for a program without inputs.",
    )
    sweep: bool = Field(
        default=False,
        description="The client sent a list of points (answered as ``results``), not one.",
    )
    observables: list[dict[str, float]] | None = Field(
        default=None,
        description="Observables to estimate, each Pauli strings (Qiskit's label order) to "
        "real coefficients; None for counts only.",
    )
    dialect: Dialect | None = Field(
        default=None,
        description="The language the API read the program as; None from writers that do not "
        "say (the processor detects it again either way).",
    )
    outputs: list[Output] | None = Field(
        default=None, description="What to answer for each point; None: counts only."
    )
    method: Method | None = Field(default=None, description="Aer's method; None: automatic.")
    noise: Noise | None = Field(default=None, description="The noise to simulate; None: none.")
    overrides: list[str] | None = Field(
        default=None,
        description="The fields a replay set anew (``method``, ``noise``, ``shots``) on this "
        "record; None when it runs as submitted.",
    )
    shots: int = Field(
        ge=0, description="Shots per point; 0 (with observables only): exact expectation values."
    )
    seed: int = Field(
        ge=0,
        description="Simulator seed; chosen at submit when the client gives none, so that a "
        "re-run of the same record gives the same counts.",
    )
    submitted_at: datetime
    memory: bool = Field(default=False, description="Also return the outcome of every shot.")
    owner: str | None = Field(
        default=None, description="Who submitted it: a digest of the API key, never the key."
    )
    qubits: int | None = Field(
        default=None,
        ge=0,
        description="Qubits of the program as the API read it (None from writers that do not "
        "say): with ``operations``, how the scheduler weighs the task before it runs.",
    )
    operations: int | None = Field(
        default=None,
        ge=0,
        description="Operations that will run (gate definitions expanded, loops unrolled), as "
        "the API read the program; None from writers that do not say.",
    )
    generation: int = Field(
        default=0,
        ge=0,
        description="0 when submitted; a replay re-publishes the record with a larger number "
        "(its start time in ms), and the newest generation's outcome is the one shown.",
    )


class TaskError(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    code: ErrorCode
    message: str


class Provenance(BaseModel):
    """What made a result: the software that ran it, how Aer ran it, and what it simulated."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    service: str = Field(description="The service's version (the qcexec distribution's).")
    qiskit: str = Field(description="Qiskit's version.")
    qiskit_aer: str = Field(description="Qiskit Aer's version.")
    method: str | None = Field(
        default=None,
        description="The method Aer ran the circuit with, as Aer reports it (automatic is "
        "resolved to the one it chose); None when nothing ran.",
    )
    seed: int = Field(description="The simulator seed.")
    noise_digest: str | None = Field(
        default=None,
        description="SHA-256 (hex) of the noise asked, as its JSON on the record; None "
        "without noise.",
    )
    device: str | None = Field(default=None, description="The device snapshot simulated.")
    calibrated_at: str | None = Field(
        default=None,
        description="When the device snapshot's calibration was taken (ISO 8601), when known.",
    )


class PointResult(BaseModel):
    """The outcome of one point of a task: its parameter values, counts (when the circuit
    measures and shots were asked) and the observables' expectation values with their standard
    errors (0 when exact), in the order they were asked."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    parameters: dict[str, float] | None = None
    counts: dict[str, int] | None = None
    expectation_values: list[float] | None = None
    standard_errors: list[float] | None = None
    probabilities: dict[str, float] | None = Field(
        default=None, description="Exact probabilities of the measured bits' outcomes (non-zero)."
    )
    statevector: list[tuple[float, float]] | None = Field(
        default=None,
        description="Amplitudes as [re, im] pairs, in Qiskit's order (qubit 0 the lowest bit).",
    )


class TaskResult(Event):
    """The one terminal outcome of a task, on ``qc.results`` (compacted), keyed by ``task_id``."""

    event: Literal["qc.results"] = "qc.results"
    version: Literal[1] = 1
    task_id: str
    status: Literal["completed", "failed", "cancelled"]
    counts: dict[str, int] | None = Field(
        default=None, description="Measurement counts keyed by Qiskit bit string (completed)."
    )
    memory: list[str] | None = Field(
        default=None, description="Each shot's bit string, in order (completed, when asked)."
    )
    error: TaskError | None = Field(
        default=None, description="Why the task failed or was cancelled (failed, cancelled)."
    )
    results: list[PointResult] | None = Field(
        default=None,
        description="Per point, in the order of the submission (completed tasks with "
        "parameters or observables); ``counts`` is then the first point's counts.",
    )
    sweep: bool = Field(default=False, description="The submission was a sweep.")
    shots: int
    seed: int
    dialect: Dialect | None = Field(
        default=None, description="The language the program was read as (None: not read)."
    )
    method: Method | None = Field(default=None, description="The submission's method.")
    noise: Noise | None = Field(default=None, description="The submission's noise.")
    overrides: list[str] | None = Field(
        default=None, description="The fields a replay set anew on the submission."
    )
    owner: str | None = None
    generation: int = Field(default=0, ge=0, description="The submission's generation.")
    submitted_at: datetime
    started_at: datetime | None = Field(description="None when cancelled before it started.")
    finished_at: datetime
    duration_ms: float = Field(
        description="Milliseconds from the processor taking the task up to its outcome: its "
        "claim, the wait for a worker and the hop to it, parsing and simulating (for small "
        "tasks run together in one hop, the whole hop's)."
    )
    processor: str = Field(description="Which processor instance ran the task.")
    provenance: Provenance | None = Field(
        default=None, description="What made the result (absent from older writers)."
    )

    @model_validator(mode="after")
    def _outcome_matches_status(self) -> Self:
        if self.status == "completed" and self.counts is None:
            raise ValueError("a completed result carries counts")
        if self.status != "completed" and self.error is None:
            raise ValueError("a failed or cancelled result carries an error")
        return self


#: The fields of a submission that every later record of its task repeats, as they were: which
#: task, what was asked and by whom (``dialect`` is the language the program was read as, which
#: the processor may know better than the record).
REPEATED_FIELDS = (
    "task_id", "sweep", "shots", "seed", "dialect", "method", "noise", "overrides", "owner",
    "generation", "submitted_at",
)  # fmt: skip


def repeated(task: TaskSubmitted) -> dict[str, Any]:
    """The submission's :data:`REPEATED_FIELDS`, for its result."""
    return {name: getattr(task, name) for name in REPEATED_FIELDS}


#: Bytes a record takes beyond its value (key, headers, framing): a generous bound.
RECORD_OVERHEAD = 1024


def result_size_bound(shots: int, clbits: int, memory: bool) -> int:
    """The most bytes the ``qc.results`` record of a completed task can take: one counts entry
    per distinct outcome (at most ``shots`` of them), and one bit string a shot with
    ``memory``."""
    outcomes = min(shots, 2 ** min(clbits, 62))
    counts = outcomes * (clbits + len(str(shots)) + 4)
    listed = shots * (clbits + 3) if memory else 0
    return RECORD_OVERHEAD + 1024 + counts + listed


class TaskCancelRequested(Event):
    """A task that must not run (or must stop), on ``qc.cancellations`` (compacted), keyed by
    ``task_id``: a client cancelled it, or the API withdrew it (it answered 503 while the
    submission's record could still reach the log).

    Every processor reads every cancellation and stops the task if it is running it; a task
    not yet started is never run (the processor checks the view before it starts a task, and
    the materializer and rebuild-view put every cancellation in the view)."""

    event: Literal["qc.cancellations"] = "qc.cancellations"
    version: Literal[1] = 1
    task_id: str
    requested_at: datetime
    generation: int = Field(
        default=0, ge=0, description="The generation of the task it stops (and those before)."
    )
    withdrawn: bool = Field(
        default=False,
        description="The API answered 503 for the submission: the client was told it was not "
        "accepted, so it never runs even if its record reached the log.",
    )


class DeadLetter(Event):
    """A record that could not be decoded, on the dead-letter topic, with the reason."""

    event: Literal["qc.deadletter"] = "qc.deadletter"
    version: Literal[1] = 1
    topic: str
    partition: int
    offset: int
    key: str | None = Field(description="The record key, decoded as UTF-8 with replacement.")
    value: str = Field(description="The record value, decoded as UTF-8 with replacement.")
    reason: str
    failed_at: datetime


#: Every event model by the topic role it travels on; the JSON Schema files follow this list.
EVENT_MODELS: dict[str, type[Event]] = {
    "qc.submitted": TaskSubmitted,
    "qc.results": TaskResult,
    "qc.deadletter": DeadLetter,
    "qc.cancellations": TaskCancelRequested,
}
