"""The one error the front end raises for a program it will not run, with where and why."""

from __future__ import annotations

from schemas.events import ErrorCode


class ProgramError(Exception):
    """A program the service will not run. ``line`` and ``column`` are 1-based when known;
    ``code`` is one of the contract's error codes (``invalid_program``, ``limit_exceeded``...)."""

    def __init__(
        self,
        message: str,
        line: int | None = None,
        column: int | None = None,
        code: ErrorCode = "invalid_program",
    ) -> None:
        super().__init__(message, line, column, code)
        self.message, self.line, self.column, self.code = message, line, column, code

    def __str__(self) -> str:
        where = f"line {self.line}, column {self.column}: " if self.line else ""
        return where + self.message


def limit_exceeded(message: str) -> ProgramError:
    return ProgramError(message, code="limit_exceeded")
