"""Errors caught once, at the HTTP boundary, and the answers they get."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api.submissions import LogUnavailable
from schemas.qasm import ProgramError

RETRY_AFTER_S = "2"


class ServiceUnavailable(Exception):
    """A shared service (the log, Redis) did not answer: the client may retry."""


def limit_exceeded(field: str, message: str) -> JSONResponse:
    """A guardrail answer, in the same shape as FastAPI's own 422."""
    detail = [{"type": "limit_exceeded", "loc": ["body", field], "msg": message}]
    return JSONResponse({"detail": detail}, status_code=422)


def _unavailable(detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": RETRY_AFTER_S})


async def _program_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProgramError)
    if exc.code == "limit_exceeded":
        return limit_exceeded("qc", exc.message)
    error = {"line": exc.line, "column": exc.column, "message": exc.message}
    return JSONResponse({"detail": "QASM3 code is not valid", "errors": [error]}, status_code=400)


async def _log_unavailable(request: Request, exc: Exception) -> JSONResponse:
    return _unavailable(
        "The log did not acknowledge the submission in time: the task was not accepted. "
        "Retry later."
    )


async def _service_unavailable(request: Request, exc: Exception) -> JSONResponse:
    return _unavailable(f"Service unavailable: {exc}. Retry later.")


def install(app: FastAPI) -> None:
    app.add_exception_handler(ProgramError, _program_error)
    app.add_exception_handler(LogUnavailable, _log_unavailable)
    app.add_exception_handler(ServiceUnavailable, _service_unavailable)
