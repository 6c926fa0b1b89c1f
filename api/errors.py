"""Errors caught once, at the HTTP boundary, and the answers they get."""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException

from api.submissions import LogUnavailable
from programs.errors import ProgramError

log = logging.getLogger(__name__)
RETRY_AFTER_S = "2"


class ServiceUnavailable(Exception):
    """A shared service (the log, Redis) did not answer: the client may retry."""


class Unauthorized(Exception):
    """No key, or not one of the configured keys."""


class RateLimited(Exception):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__(retry_after_s)
        self.retry_after_s = retry_after_s


class BacklogFull(Exception):
    """The owner has as many tasks waiting as it may: answered 429 with Retry-After."""

    def __init__(self, waiting: int, limit: int) -> None:
        super().__init__(waiting, limit)
        self.waiting, self.limit = waiting, limit


class Refused(Exception):
    """A request that is well formed but cannot be run as it is (an input without a value, a
    malformed Pauli string, outputs the method cannot give, an Idempotency-Key reused with
    another body): answered 422 in the shape of FastAPI's own validation errors, whose type
    for a wrong value is ``value_error``."""

    kind = "value_error"

    def __init__(self, field: str, message: str, loc: str = "body") -> None:
        super().__init__(message)
        self.field, self.message, self.loc = field, message, loc

    def detail(self) -> list[dict[str, Any]]:
        return [{"type": self.kind, "loc": [self.loc, self.field], "msg": self.message}]


class LimitExceeded(Refused):
    """A guardrail: a number past its bound (shots, points, qubits as they will run, a
    result's size, a batch's tasks), answered 422 with the type ``limit_exceeded``."""

    kind = "limit_exceeded"


def program_error_body(exc: ProgramError) -> dict[str, Any]:
    """The original service's 400 body, with where the parser stopped and why."""
    error = {"line": exc.line, "column": exc.column, "message": exc.message}
    return {"detail": "QASM3 code is not valid", "errors": [error]}


def _unavailable(detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": RETRY_AFTER_S})


async def _program_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProgramError)
    if exc.code == "limit_exceeded":
        return await _refused(request, LimitExceeded("qc", exc.message))
    return JSONResponse(program_error_body(exc), status_code=400)


async def _refused(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Refused)
    return JSONResponse({"detail": exc.detail()}, status_code=422)


async def _log_unavailable(request: Request, exc: Exception) -> JSONResponse:
    return _unavailable(
        "The log did not acknowledge the request in time: it was not accepted. Retry later."
    )


async def _service_unavailable(request: Request, exc: Exception) -> JSONResponse:
    return _unavailable(f"Service unavailable: {exc}. Retry later.")


async def _redis_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """Redis (the task view, idempotency keys) did not answer: the one place its errors become
    an answer, for every route."""
    log.warning("%s %s: Redis unavailable: %r", request.method, request.url.path, exc)
    return _unavailable("Service unavailable: the task view is unavailable. Retry later.")


async def _unauthorized(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(
        {"detail": "Missing or invalid API key: send Authorization: Bearer <key>."},
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )


async def _rate_limited(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RateLimited)
    return JSONResponse(
        {"detail": "Too many requests for this API key."},
        status_code=429,
        headers={"Retry-After": str(exc.retry_after_s)},
    )


async def _backlog_full(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BacklogFull)
    return JSONResponse(
        {
            "detail": f"This API key has {exc.waiting} tasks waiting; it may have at most "
            f"{exc.limit} (API_OWNER_MAX_WAITING). Retry once some have finished."
        },
        status_code=429,
        headers={"Retry-After": RETRY_AFTER_S},
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    """A body that is not JSON at all (bytes that are not UTF-8, say) is a 422 in FastAPI's
    validation shape, like a body that is JSON of the wrong shape; a 400 is kept for programs
    that cannot be read, in the original service's shape."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 400:
        detail = [{"type": "json_invalid", "loc": ["body"], "msg": "The body is not valid JSON."}]
        return JSONResponse({"detail": detail}, status_code=422)
    return await http_exception_handler(request, exc)


def representable(value: Any) -> Any:
    """``value`` with every non-finite float as its JSON-ish name (``NaN``, ``Infinity``):
    JSON has no such numbers, and an answer that echoes a client's NaN back must still be
    JSON (the 422 of a NaN would otherwise fail to render, a 500)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {key: representable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [representable(item) for item in value]
    return value


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's own 422 (the same body), with the inputs it echoes made representable."""
    assert isinstance(exc, RequestValidationError)
    detail = representable(jsonable_encoder(exc.errors()))
    return JSONResponse({"detail": detail}, status_code=422)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(ProgramError, _program_error)
    app.add_exception_handler(Refused, _refused)
    app.add_exception_handler(LogUnavailable, _log_unavailable)
    app.add_exception_handler(ServiceUnavailable, _service_unavailable)
    # redis-py raises RedisError (its ConnectionError and TimeoutError); a socket error that
    # escapes it is the same outage.
    app.add_exception_handler(RedisError, _redis_unavailable)
    app.add_exception_handler(OSError, _redis_unavailable)
    app.add_exception_handler(Unauthorized, _unauthorized)
    app.add_exception_handler(RateLimited, _rate_limited)
    app.add_exception_handler(BacklogFull, _backlog_full)
