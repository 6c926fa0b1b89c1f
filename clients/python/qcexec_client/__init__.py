"""The Python client of qcexec: ``Client`` and ``AsyncClient`` over its HTTP API, typed
answers, and exceptions carrying the server's reasons. Qiskit's primitives over the service are
in ``qcexec_client.qiskit`` (the ``qiskit`` extra). Nothing here imports the server."""

from qcexec_client._core import RetryPolicy, task_body
from qcexec_client.aclient import AsyncClient
from qcexec_client.client import Client
from qcexec_client.errors import (
    ApiError,
    Conflict,
    InvalidProgram,
    NotFound,
    QcexecError,
    RateLimited,
    Refused,
    RequestTooLarge,
    Retryable,
    TaskFailed,
    Unauthorized,
    Unavailable,
    WaitTimeout,
)
from qcexec_client.models import (
    TERMINAL,
    Accepted,
    BatchItem,
    CancelAccepted,
    PointResult,
    Task,
    TaskPage,
    Usage,
)

__all__ = [
    "TERMINAL",
    "Accepted",
    "ApiError",
    "AsyncClient",
    "BatchItem",
    "CancelAccepted",
    "Client",
    "Conflict",
    "InvalidProgram",
    "NotFound",
    "PointResult",
    "QcexecError",
    "RateLimited",
    "Refused",
    "RequestTooLarge",
    "RetryPolicy",
    "Retryable",
    "Task",
    "TaskFailed",
    "TaskPage",
    "Unauthorized",
    "Unavailable",
    "Usage",
    "WaitTimeout",
    "task_body",
]
