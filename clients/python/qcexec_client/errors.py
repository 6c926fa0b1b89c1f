"""The exceptions the client raises: one per kind of answer a caller handles differently, each
carrying the server's status, its reason and the body it answered."""

from __future__ import annotations

from typing import Any


class QcexecError(Exception):
    """Any failure the client reports."""


class ApiError(QcexecError):
    """The API answered 4xx or 5xx. ``reason`` is the server's own message."""

    def __init__(self, status: int, reason: str, body: Any = None) -> None:
        super().__init__(f"{status}: {reason}")
        self.status, self.reason, self.body = status, reason, body


class InvalidProgram(ApiError):
    """400: the program cannot be read; ``errors`` says where (line, column, message)."""

    @property
    def errors(self) -> list[dict[str, Any]]:
        return list(self.body.get("errors", [])) if isinstance(self.body, dict) else []


class Unauthorized(ApiError):
    """401: API keys are on and no valid key was sent (argument or QCEXEC_API_KEY)."""


class NotFound(ApiError):
    """404: no such task, for this caller."""


class Conflict(ApiError):
    """409: the task already finished (a cancel that came too late)."""


class RequestTooLarge(ApiError):
    """413: the request body is over the server's limit."""


class Refused(ApiError):
    """422: a wrong body or a guardrail; ``fields`` names what was refused."""

    @property
    def fields(self) -> list[str]:
        detail = self.body.get("detail") if isinstance(self.body, dict) else None
        return [
            str(item.get("loc", ["", ""])[-1]) for item in detail or [] if isinstance(item, dict)
        ]


class Retryable(ApiError):
    """429 or 503: try again after ``retry_after`` seconds (the client already did, up to its
    bound)."""

    def __init__(self, status: int, reason: str, body: Any, retry_after: float | None) -> None:
        super().__init__(status, reason, body)
        self.retry_after = retry_after


class RateLimited(Retryable):
    """429: too many requests for this API key."""


class Unavailable(Retryable):
    """503: the log or Redis did not answer; nothing was accepted."""


class WaitTimeout(QcexecError):
    """A task was not finished when the wait ran out."""

    def __init__(self, task_id: str, state: str | None, timeout: float) -> None:
        super().__init__(f"task {task_id} still {state or 'pending'} after {timeout:g} s")
        self.task_id, self.state, self.timeout = task_id, state, timeout


class TaskFailed(QcexecError):
    """A task ended failed or cancelled; ``task`` is its last answer."""

    def __init__(self, task: Any) -> None:
        code = (task.error or {}).get("code", task.state)
        super().__init__(f"task {task.task_id} {task.state}: {task.message} ({code})")
        self.task = task


_BY_STATUS: dict[int, type[ApiError]] = {
    400: InvalidProgram,
    401: Unauthorized,
    404: NotFound,
    409: Conflict,
    413: RequestTooLarge,
    422: Refused,
}


def reason_of(body: Any, fallback: str) -> str:
    """The server's reason, for a person: ``message``, or ``detail`` (text, or each field's
    message with where it points)."""
    if not isinstance(body, dict):
        return str(body or fallback)
    if body.get("message"):
        return str(body["message"])
    detail = body.get("detail")
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                where = ".".join(str(part) for part in item.get("loc", []))
                parts.append(f"{where}: {item.get('msg', item)}")
            else:
                parts.append(str(item))
        return "; ".join(parts) or fallback
    if body.get("errors"):
        first = body["errors"][0]
        return f"{detail}: line {first.get('line')}, column {first.get('column')}: " + str(
            first.get("message")
        )
    return str(detail or fallback)


def error_for(status: int, body: Any, retry_after: float | None) -> ApiError:
    reason = reason_of(body, f"HTTP {status}")
    if status == 429:
        return RateLimited(status, reason, body, retry_after)
    if status == 503:
        return Unavailable(status, reason, body, retry_after)
    return _BY_STATUS.get(status, ApiError)(status, reason, body)
