"""``POST /tasks`` and ``GET /tasks/{task_id}``."""

from __future__ import annotations

import logging
import secrets
import uuid

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from redis.exceptions import RedisError

from api.deps import SettingsDep, SubmissionsDep, ViewDep
from api.errors import ServiceUnavailable, limit_exceeded
from api.models import MAX_SEED, InvalidProgram, Problem, TaskAccepted, TaskRequest, TaskStatus
from qcexec.view import submitted_entry
from schemas.events import TaskSubmitted, utcnow
from schemas.qasm import check_limits, parse_program

log = logging.getLogger(__name__)
router = APIRouter()

NOT_FOUND = {"status": "error", "message": "Task not found."}


@router.post(
    "/tasks",
    status_code=202,
    response_model=TaskAccepted,
    responses={
        400: {"model": InvalidProgram, "description": "The program is not valid OpenQASM 3."},
        413: {"model": Problem, "description": "The request body is too large."},
        503: {"model": Problem, "description": "The log is unavailable; nothing was accepted."},
    },
    summary="Submit an OpenQASM 3 program",
)
async def submit_task(
    body: TaskRequest, settings: SettingsDep, submissions: SubmissionsDep, view: ViewDep
) -> Response:
    limits = settings.limits
    shots = body.shots or settings.qc_task_default_shots
    if shots > limits.max_shots:
        return limit_exceeded("shots", f"shots must be at most {limits.max_shots}")
    circuit = parse_program(body.qc, limits.max_program_bytes)  # ProgramError: 400 or 422
    check_limits(circuit, shots, limits)
    event = TaskSubmitted(
        task_id=str(uuid.uuid4()),
        qasm=body.qc,
        shots=shots,
        seed=body.seed if body.seed is not None else secrets.randbelow(MAX_SEED + 1),
        submitted_at=utcnow(),
    )
    await submissions.append(event)  # LogUnavailable: 503
    try:  # so that a GET right after this answer finds the task
        await view.apply(submitted_entry(event))
    except RedisError as exc:  # the materializer writes it from the log too
        log.warning("task %s: pending state not written through: %r", event.task_id, exc)
    return JSONResponse(
        TaskAccepted(task_id=event.task_id).model_dump(),
        status_code=202,
        headers={"Location": f"/tasks/{event.task_id}"},
    )


@router.get(
    "/tasks/{task_id}",
    response_model=TaskStatus,
    responses={404: {"model": TaskStatus, "description": "No such task."}},
    summary="The state of a task, with its counts once completed",
)
async def get_task(task_id: str, view: ViewDep) -> Response:
    try:
        doc = await view.get(task_id)
    except RedisError as exc:
        raise ServiceUnavailable("the task view is unavailable") from exc
    if doc is None:
        return JSONResponse(NOT_FOUND, status_code=404)
    return Response(doc, media_type="application/json")
