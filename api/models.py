"""Request and response bodies of the HTTP API (the original service's shapes, kept exactly)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from runtime.view.documents import TaskStatus
from schemas.events import Depolarizing, Method, Noise, Output

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


class DepolarizingRequest(Depolarizing):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NoiseRequest(Noise):
    """``{"depolarizing": {"one_qubit": p1, "two_qubit": p2}, "readout": p}`` (any of them), or
    ``{"device": name}`` (``GET /devices`` lists the names)."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {"depolarizing": {"one_qubit": 0.001, "two_qubit": 0.01}, "readout": 0.02},
                {"device": "fake_sherbrooke"},
            ]
        },
    )

    depolarizing: DepolarizingRequest | None = None


class TaskRequest(BaseModel):
    """A submission. Every number in it is finite: JSON's ``NaN`` and ``Infinity`` (which
    Python's ``json`` writes) are refused with a 422, like any other invalid value."""

    model_config = ConfigDict(allow_inf_nan=False)

    qc: str = Field(
        description="An OpenQASM 2 or 3 program (Braket's OpenQASM 3 too).", examples=[BELL]
    )
    shots: int | None = Field(
        default=None,
        ge=0,
        description="Number of shots (per point); the server's default when omitted. 0, with "
        "observables: exact expectation values, no counts.",
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
    parameters: dict[str, float] | list[dict[str, float]] | None = Field(
        default=None,
        description="Values of the program's `input float`/`input angle` declarations: one "
        "object, or a list of objects (a sweep, answered point by point in `results`).",
        examples=[{"theta": 0.5}],
    )
    observables: list[str | dict[str, float]] | None = Field(
        default=None,
        description="Observables to estimate: each a Pauli string over the circuit's qubits in "
        'Qiskit\'s label order (`"ZZ"`) or an object of Pauli strings to real coefficients '
        '(`{"ZZ": 1.0, "XX": -0.5}`). The answer has `expectation_values` and '
        '`standard_errors`, one per observable (exact, error 0, with `"shots": 0`).',
        examples=[["ZZ", {"XX": 0.5, "YY": -0.5}]],
    )
    outputs: list[Output] | None = Field(
        default=None,
        min_length=1,
        description='What to answer for each point: `"counts"` (the default, sampled), '
        '`"probabilities"` (exact, over the measured bits, keyed like counts) and '
        '`"statevector"` (the state before the final measurements as [re, im] pairs).',
        examples=[["counts", "probabilities"]],
    )
    method: Method | None = Field(
        default=None,
        description="Aer's simulation method; each has its own qubit limit. Automatic when "
        "omitted.",
        examples=["matrix_product_state"],
    )
    noise: NoiseRequest | None = Field(
        default=None, description="The noise to simulate: a model's parts, or a device snapshot."
    )


class TaskAccepted(BaseModel):
    task_id: str = Field(
        description="The task's id (a UUID); GET /tasks/{task_id} follows it.",
        examples=["6f1c2a9e-3b8d-4f0e-9a57-2c1d0b7e4f11"],
    )
    message: str = Field(
        default="Task submitted successfully.", examples=["Task submitted successfully."]
    )


class ProgramErrorDetail(BaseModel):
    line: int | None = Field(description="Line where the parser stopped (1-based).", examples=[3])
    column: int | None = Field(description="Column there (1-based).", examples=[1])
    message: str = Field(description="What the parser expected.", examples=["missing ';'"])


class InvalidProgram(BaseModel):
    detail: str = Field(default="QASM3 code is not valid", examples=["QASM3 code is not valid"])
    errors: list[ProgramErrorDetail] = Field(description="Where and why the program was refused.")


class TaskList(BaseModel):
    tasks: list[TaskStatus] = Field(description="The caller's tasks, newest first.")
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
    task_id: str | None = Field(default=None, description="Set when this one was accepted.")
    error: dict[str, Any] | None = Field(
        default=None, description="Why this one was not accepted: its HTTP status and detail."
    )


class BatchAccepted(BaseModel):
    tasks: list[BatchItem] = Field(description="One item per request, in the same order.")


class CancelAccepted(BaseModel):
    task_id: str = Field(description="The task's id.")
    state: Literal["queued", "running"] = Field(description="The task's state when asked.")
    message: str = Field(
        description="What happens next.",
        examples=["Cancellation requested: the task will not run."],
    )


class DeviceInfo(BaseModel):
    name: str = Field(description='The name to give as `{"noise": {"device": name}}`.')
    qubits: int = Field(description="The device's qubits: a circuit may use at most this many.")


class DeviceList(BaseModel):
    devices: list[DeviceInfo] = Field(
        description="Device snapshots (qiskit-ibm-runtime's fake provider) whose calibrated "
        "noise, gates and coupling map a task may run under."
    )


class Problem(BaseModel):
    detail: str = Field(description="What went wrong, for a person.")


class MethodEstimate(BaseModel):
    """What one method would need for the task, or why it cannot run it."""

    method: Method = Field(description="The method asked.")
    runs: bool = Field(description="Whether this method can run the task as asked.")
    reason: str | None = Field(default=None, description="Why not, as a submission is told.")
    simulates_as: Method | None = Field(
        default=None, description="The method Aer would run: automatic resolved to its choice."
    )
    memory_bytes: int | None = Field(
        default=None,
        description="The simulator's state, as Aer counts it (16 bytes an amplitude); absent "
        "where the circuit decides (matrix product state, extended stabilizer).",
    )
    seconds: float | None = Field(default=None, description="Estimated run time, one worker.")


class Estimate(BaseModel):
    """A dry run: what the task would run, need and take; nothing ran, nothing was logged."""

    accepted: bool = Field(description="Whether a submission of this body would be accepted now.")
    reason: str | None = Field(
        default=None, description="Why not (the caller's tasks waiting are at their bound)."
    )
    dialect: Literal["openqasm2", "openqasm3", "braket"]
    qubits: int = Field(
        description="Qubits the circuit uses (on a device snapshot, the memory figures count "
        "the device's own, since the circuit is mapped onto it)."
    )
    operations: int = Field(description="Operations that will run: definitions expanded, loops "
                            "unrolled.")  # fmt: skip
    points: int = Field(description="Points of parameter values (1 without parameters).")
    shots: int
    method: MethodEstimate = Field(description="The method asked (automatic if none).")
    methods: list[MethodEstimate] = Field(description="Every method, whether it can run it.")
    calibration: str = Field(description="Where the run-time model was fitted.")
