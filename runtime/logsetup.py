"""Logging for every role: one JSON object per line (LOG_FORMAT=json) or plain text.

A line about a task carries ``task_id`` (given with ``extra={"task_id": ...}``, or from
:func:`task_context`) and the ``trace_id``/``span_id`` of the current span (or given with
``extra``), so that one task's lines can be found across the API, the processors and the
materializer, and next to its trace.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from runtime import telemetry

if TYPE_CHECKING:
    from runtime.settings import Settings

_task_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("task_id", default=None)

#: Attributes every LogRecord has: anything else on a record came with ``extra`` (but for
#: uvicorn's copy of the message with terminal colours).
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None)))
_STANDARD |= {"message", "asctime", "color_message"}
#: uvicorn's access log passes these as its arguments.
_ACCESS_FIELDS = ("client", "method", "path", "http_version", "status")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


@contextlib.contextmanager
def task_context(task_id: str) -> Iterator[None]:
    """Lines logged inside the block are about this task."""
    token = _task_id.set(task_id)
    try:
        yield
    finally:
        _task_id.reset(token)


def _context_fields(record: logging.LogRecord) -> dict[str, str]:
    """task_id, trace_id and span_id of a record: given with ``extra``, else the current ones."""
    fields = telemetry.ids()
    task_id = _task_id.get()
    if task_id:
        fields["task_id"] = task_id
    for name in ("task_id", "trace_id", "span_id"):
        value = getattr(record, name, None)
        if value:
            fields[name] = value
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, service, and task_id, trace_id,
    span_id and any ``extra`` fields when the record has them."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "service": self.service,
        }
        doc |= _context_fields(record)
        doc |= {
            name: value
            for name, value in vars(record).items()
            if name not in _STANDARD and name not in doc and not name.startswith("_")
        }
        if record.name == "uvicorn.access" and isinstance(record.args, tuple):
            if len(record.args) == len(_ACCESS_FIELDS):
                doc |= dict(zip(_ACCESS_FIELDS, record.args, strict=True))
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            doc["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(doc, default=str).decode()


class TextFormatter(logging.Formatter):
    """The usual one-line text, with ``task_id=... trace_id=...`` after a line about a task."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = _context_fields(record)
        fields.pop("span_id", None)
        if "task_id" not in fields:
            return line
        suffix = " ".join(f"{name}={value}" for name, value in sorted(fields.items()))
        head, newline, rest = line.partition("\n")  # after the message, before a traceback
        return f"{head} [{suffix}]{newline}{rest}"


def json_logs(log_format: str, stream: Any = None) -> bool:
    """Whether LOG_FORMAT asks for JSON; ``auto`` means JSON unless writing to a terminal."""
    if log_format == "auto":
        stream = stream or sys.stderr
        return not (hasattr(stream, "isatty") and stream.isatty())
    return log_format == "json"


def setup_logging(settings: Settings, role: str) -> None:
    """The root logger writes to stderr in LOG_FORMAT at LOG_LEVEL; every other handler goes."""
    handler = logging.StreamHandler(sys.stderr)
    json = json_logs(settings.log_format, sys.stderr)
    handler.setFormatter(JsonFormatter(telemetry.service_name(role)) if json else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    # uvicorn's and Faust's own loggers come to the root handler, not their own ones.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.captureWarnings(True)
