"""The task routes: submit (one or a batch), read (one, with long-poll, or a page), cancel.
HTTP only: what a request becomes on the log is :mod:`api.intake`, retry-safe keys are
:mod:`api.idempotency`, and an unavailable Redis is one handler of :mod:`api.errors` (503)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from api.auth import OwnerDep
from api.deps import BacklogDep, ReaderDep, SettingsDep, SubmissionsDep, ViewDep
from api.errors import LimitExceeded, Refused, program_error_body, representable
from api.idempotency import IdempotencyKeys
from api.intake import append, append_one, submission, write_through
from api.models import (
    BatchAccepted,
    BatchRequest,
    CancelAccepted,
    InvalidProgram,
    Problem,
    TaskAccepted,
    TaskList,
    TaskRequest,
    TaskStatus,
)
from api.submissions import LogUnavailable
from programs.errors import ProgramError
from runtime.view import TERMINAL_STATES
from runtime.view.states import NO_SUCH_TASK, Rank
from schemas.events import TaskCancelRequested, TaskSubmitted, utcnow

log = logging.getLogger(__name__)
router = APIRouter(tags=["tasks"])

NOT_FOUND = {"status": "error", "message": "Task not found."}
ACCEPTED = "Task submitted successfully."


def _accepted(task_id: str, status_code: int = 202) -> JSONResponse:
    return JSONResponse(
        {"task_id": task_id, "message": ACCEPTED},
        status_code=status_code,
        headers={"Location": f"/tasks/{task_id}"},
    )


@router.post(
    "/tasks",
    operation_id="submit_task",
    status_code=202,
    response_model=TaskAccepted,
    responses={
        200: {"model": TaskAccepted, "description": "Same Idempotency-Key and body as before."},
        400: {"model": InvalidProgram, "description": "The program cannot be read."},
        401: {"model": Problem, "description": "API keys are on and none (or a wrong one) came."},
        413: {"model": Problem, "description": "The request body is too large."},
        422: {"description": "Wrong body shape, a guardrail, or a reused Idempotency-Key."},
        429: {
            "model": Problem,
            "description": "Too many requests for this API key, or too many of its tasks "
            "waiting (API_OWNER_MAX_WAITING); Retry-After says when to try again.",
        },
        503: {"model": Problem, "description": "The log is unavailable; nothing was accepted."},
    },
    summary="Submit an OpenQASM program",
    description="Answers 202 once the broker has acknowledged the task's record, never before.",
)
async def submit_task(
    body: TaskRequest,
    settings: SettingsDep,
    submissions: SubmissionsDep,
    view: ViewDep,
    reader: ReaderDep,
    owner: OwnerDep,
    backlog: BacklogDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            max_length=255,
            description="Retry-safe submission: the same key and body return the first task.",
        ),
    ] = None,
) -> Response:
    event = await submission(body, settings, reader, owner)
    await backlog.check(owner, 1)
    if idempotency_key is None:
        await append_one(submissions, view, event)
        backlog.accepted(owner, 1)
        await write_through(view, [event])
        return _accepted(event.task_id)
    keys = IdempotencyKeys(view.redis, view.prefix, settings.api_idempotency_ttl_s)
    first = await keys.claim(owner, idempotency_key, body, event.task_id)
    if first is not None:
        return _accepted(first, status_code=200)
    try:
        await append_one(submissions, view, event)
    except LogUnavailable:
        await keys.release(owner, idempotency_key)
        raise
    backlog.accepted(owner, 1)
    await write_through(view, [event])
    return _accepted(event.task_id)


def _item_error(exc: Exception) -> dict[str, Any]:
    if isinstance(exc, ValidationError):
        errors = exc.errors(include_url=False, include_context=False)
        return {"status": 422, "detail": representable(errors)}
    if isinstance(exc, Refused):
        return {"status": 422, "detail": exc.detail()}
    if isinstance(exc, ProgramError) and exc.code == "limit_exceeded":
        return {"status": 422, "detail": LimitExceeded("qc", exc.message).detail()}
    if isinstance(exc, ProgramError):
        return {"status": 400, **program_error_body(exc)}
    return {"status": 503, "detail": "The log did not acknowledge this task: not accepted."}


@router.post(
    "/tasks/batch",
    operation_id="submit_batch",
    status_code=202,
    response_model=BatchAccepted,
    responses={
        400: {"model": BatchAccepted, "description": "No task of the batch was accepted."},
        422: {"description": "Not a batch, or more tasks than the server takes at once."},
        429: {
            "model": Problem,
            "description": "Too many requests for this API key, or its tasks waiting would "
            "pass API_OWNER_MAX_WAITING with this batch: none was accepted.",
        },
        503: {"model": BatchAccepted, "description": "The log is unavailable."},
    },
    summary="Submit several programs at once",
    description="Each task is validated and accepted on its own; the answer lists, in order, "
    "a `task_id` or an `error` per task. 202 when at least one was accepted.",
)
async def submit_batch(
    body: BatchRequest,
    settings: SettingsDep,
    submissions: SubmissionsDep,
    view: ViewDep,
    reader: ReaderDep,
    owner: OwnerDep,
    backlog: BacklogDep,
) -> JSONResponse:
    if len(body.tasks) > settings.api_max_batch:
        raise LimitExceeded("tasks", f"a batch holds at most {settings.api_max_batch} tasks")

    async def item(raw: Any) -> TaskSubmitted | Exception:
        try:
            return await submission(TaskRequest.model_validate(raw), settings, reader, owner)
        except (ValidationError, ProgramError, Refused) as exc:
            return exc

    # The programs are read concurrently, by every reader process at once.
    items: list[TaskSubmitted | Exception] = list(await asyncio.gather(*map(item, body.tasks)))
    events = [item for item in items if isinstance(item, TaskSubmitted)]
    await backlog.check(owner, len(events))
    outcomes = await append(submissions, view, events)
    failed = {
        event.task_id: failure
        for event, failure in zip(events, outcomes, strict=True)
        if failure is not None
    }
    accepted = [event for event in events if event.task_id not in failed]
    backlog.accepted(owner, len(accepted))
    if accepted:
        await write_through(view, accepted)
    answer: list[dict[str, Any]] = []
    for read in items:
        if isinstance(read, TaskSubmitted) and read.task_id not in failed:
            answer.append({"task_id": read.task_id})
        else:
            problem = failed[read.task_id] if isinstance(read, TaskSubmitted) else read
            answer.append({"error": _item_error(problem)})
    status = 202 if accepted else (503 if failed and len(failed) == len(items) else 400)
    headers = {"Retry-After": "2"} if status == 503 else None
    return JSONResponse({"tasks": answer}, status_code=status, headers=headers)


@router.get(
    "/tasks",
    operation_id="list_tasks",
    response_model=TaskList,
    summary="The caller's tasks, newest first",
    description="A page of the caller's tasks (with API keys, only the key's own), optionally "
    "in one state; `next_cursor` fetches the next page and is null on the last one.",
)
async def list_tasks(
    view: ViewDep,
    owner: OwnerDep,
    state: Annotated[
        Literal["queued", "running", "completed", "failed", "cancelled"] | None,
        Query(description="Only tasks in this state."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Tasks per page.")] = 20,
    cursor: Annotated[
        str | None, Query(pattern=r"^[0-9]+(\.[0-9]+)?$", description="From `next_cursor`.")
    ] = None,
) -> JSONResponse:
    tasks, next_score = await view.page(owner, limit, float(cursor) if cursor else None, state)
    next_cursor = None if next_score is None else repr(next_score)
    return JSONResponse({"tasks": tasks, "next_cursor": next_cursor})


@router.get(
    "/tasks/{task_id}",
    operation_id="get_task",
    response_model=TaskStatus,
    responses={404: {"model": TaskStatus, "description": "No such task (for this caller)."}},
    summary="The state of a task, with its counts once completed",
    description="The original service's answer (`status` with `result` or `message`) with the "
    "lifecycle beside it. With `wait`, answers as soon as the task is terminal (a long-poll), "
    "or when the wait is over with the pending state.",
)
async def get_task(
    task_id: str,
    request: Request,
    settings: SettingsDep,
    view: ViewDep,
    owner: OwnerDep,
    wait: Annotated[
        float,
        Query(
            ge=0,
            description="Long-poll: answer as soon as the task is terminal, or after this many "
            "seconds (at most the server's limit, 30 by default).",
        ),
    ] = 0,
) -> Response:
    if wait <= 0:
        record = await view.get(task_id, owner)
    else:
        notifier = request.app.state.notifier
        with notifier.waiter(task_id) as done:
            record = await view.get(task_id, owner)
            if record is not None and record.state not in TERMINAL_STATES:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(done, min(wait, settings.api_max_wait_s))
                record = await view.get(task_id, owner)
    if record is None:
        return JSONResponse(NOT_FOUND, status_code=404)
    return Response(record.doc, media_type="application/json")


@router.post(
    "/tasks/{task_id}/cancel",
    operation_id="cancel_task",
    status_code=202,
    response_model=CancelAccepted,
    responses={
        404: {"model": TaskStatus, "description": "No such task (for this caller)."},
        409: {"model": TaskStatus, "description": "The task already finished; left as it was."},
        503: {"model": Problem, "description": "The log is unavailable."},
    },
    summary="Cancel a task",
    description="A queued task is never run and ends `cancelled`. A running one is stopped "
    "(its worker process), unless it finishes first. A finished task answers 409.",
)
async def cancel_task(
    task_id: str, view: ViewDep, submissions: SubmissionsDep, owner: OwnerDep
) -> JSONResponse:
    rank, doc = await view.request_cancel(task_id, owner)
    if rank == NO_SUCH_TASK:
        return JSONResponse(NOT_FOUND, status_code=404)
    if rank >= Rank.TERMINAL:
        state = orjson.loads(doc)["state"]
        body = {"status": "error", "message": f"Task already {state}.", "state": state}
        return JSONResponse(body | {"task_id": task_id}, status_code=409)
    generation = orjson.loads(doc).get("generation", 0)
    await submissions.append(
        TaskCancelRequested(task_id=task_id, requested_at=utcnow(), generation=generation)
    )
    if rank == Rank.QUEUED:
        state, message = "queued", "Cancellation requested: the task will not run."
    else:
        state, message = "running", "Cancellation requested: the task is stopped unless it "
        message += "finishes first."
    return JSONResponse(
        {"task_id": task_id, "state": state, "message": message},
        status_code=202,
        headers={"Location": f"/tasks/{task_id}"},
    )
