"""What the sync and async clients share: the requests each operation makes, how answers become
models or exceptions, and the retry policy (tenacity) for 429, 503 and lost connections."""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import orjson
from tenacity import retry_if_exception, stop_after_attempt, wait_exponential, wait_random

from qcexec_client.errors import Retryable, error_for

DEFAULT_URL = "http://localhost:8000"
#: The server answers a long-poll after at most this long (API_MAX_WAIT_S).
LONG_POLL_S = 30.0

Observable = str | Mapping[str, float]
Point = Mapping[str, float]


def task_body(
    qc: str,
    shots: int | None = None,
    seed: int | None = None,
    memory: bool = False,
    parameters: Point | Sequence[Point] | None = None,
    observables: Sequence[Observable] | None = None,
    outputs: Sequence[str] | None = None,
    method: str | None = None,
    noise: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The body of POST /tasks: a list of points is a sweep, one mapping is one point.
    ``outputs`` (counts, probabilities, statevector), ``method`` (Aer's) and ``noise`` (a
    model's parts, or ``{"device": name}``) go as they are."""
    body: dict[str, Any] = {"qc": qc}
    if shots is not None:
        body["shots"] = shots
    if seed is not None:
        body["seed"] = seed
    if memory:
        body["memory"] = True
    if parameters is not None:
        if isinstance(parameters, Mapping):
            body["parameters"] = {k: float(v) for k, v in parameters.items()}
        else:
            body["parameters"] = [{k: float(v) for k, v in p.items()} for p in parameters]
    if observables is not None:
        body["observables"] = [
            o if isinstance(o, str) else {k: float(v) for k, v in o.items()} for o in observables
        ]
    if outputs is not None:
        body["outputs"] = list(outputs)
    if method is not None:
        body["method"] = method
    if noise is not None:
        body["noise"] = dict(noise)
    return body


@dataclass(frozen=True)
class Call:
    """One HTTP request; ``resend_on_lost`` when sending it twice cannot run a task twice."""

    method: str
    path: str
    json: Any = None
    params: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    resend_on_lost: bool = True
    timeout: float | None = None


def submit_call(body: dict[str, Any], idempotency_key: str | None) -> Call:
    # One key per submission, made before the first attempt: every retry sends the same one,
    # so the server runs the task once however many times it is sent.
    key = idempotency_key or f"qcexec-client-{uuid.uuid4()}"
    return Call("POST", "/tasks", json=body, headers={"Idempotency-Key": key})


def batch_call(bodies: Sequence[dict[str, Any]]) -> Call:
    # A batch has no idempotency key: resent only after an answer that accepted nothing.
    return Call("POST", "/tasks/batch", json={"tasks": list(bodies)}, resend_on_lost=False)


def get_call(task_id: str, wait: float = 0) -> Call:
    params = {"wait": wait} if wait > 0 else None
    return Call("GET", f"/tasks/{task_id}", params=params, timeout=wait + 30 if wait else None)


def list_call(state: str | None, limit: int, cursor: str | None) -> Call:
    params: dict[str, Any] = {"limit": limit}
    params |= {k: v for k, v in (("state", state), ("cursor", cursor)) if v is not None}
    return Call("GET", "/tasks", params=params)


def cancel_call(task_id: str) -> Call:
    return Call("POST", f"/tasks/{task_id}/cancel")


def usage_call(since: datetime | None, until: datetime | None) -> Call:
    params = {
        name: moment.isoformat()
        for name, moment in (("since", since), ("until", until))
        if moment is not None
    }
    return Call("GET", "/usage", params=params)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: the backoff decides


def parse(response: httpx.Response) -> Any:
    """The JSON body of a 2xx answer; else the exception for its status. Read by orjson: a
    sweep's result of a few hundred kilobytes takes the standard library about 5 ms, orjson
    about 1 (measured in ``make bench``'s sweep, whose client reads it the same way)."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        body = response.text
    if response.status_code >= 400:
        raise error_for(response.status_code, body, _retry_after(response))
    return body


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to try again after a 429, a 503 or a lost connection: the
    server's Retry-After when it gives one (capped at ``max_wait``), else exponential backoff
    with jitter; at most ``attempts`` tries in all."""

    attempts: int = 5
    initial_wait: float = 0.5
    max_wait: float = 30.0

    def arguments(self, call: Call) -> dict[str, Any]:
        backoff = wait_exponential(multiplier=self.initial_wait, max=self.max_wait) + wait_random(
            0, self.initial_wait
        )

        def wait(state: Any) -> float:
            error = state.outcome.exception()
            if isinstance(error, Retryable) and error.retry_after is not None:
                return min(error.retry_after, self.max_wait)
            return backoff(state)

        def retryable(error: BaseException) -> bool:
            if isinstance(error, Retryable):
                return True
            return call.resend_on_lost and isinstance(error, httpx.TransportError)

        return {
            "retry": retry_if_exception(retryable),
            "stop": stop_after_attempt(max(1, self.attempts)),
            "wait": wait,
            "reraise": True,
        }


def settings(url: str | None, api_key: str | None) -> tuple[str, dict[str, str]]:
    """The base URL (argument, QCEXEC_URL, or localhost) and the headers with the API key
    (argument or QCEXEC_API_KEY)."""
    base = url or os.environ.get("QCEXEC_URL") or DEFAULT_URL
    key = api_key if api_key is not None else os.environ.get("QCEXEC_API_KEY")
    headers = {"User-Agent": "qcexec-client/0.1"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return base.rstrip("/"), headers


def request_arguments(call: Call) -> dict[str, Any]:
    arguments: dict[str, Any] = {"params": call.params, "headers": call.headers}
    if call.json is not None:
        arguments["json"] = call.json
    if call.timeout is not None:
        arguments["timeout"] = call.timeout
    return arguments
