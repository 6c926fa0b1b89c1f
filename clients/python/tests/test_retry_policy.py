"""The retry policy without a service: which answers are retried, how long it waits (the
server's Retry-After first), and that a retried submission sends the same Idempotency-Key."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
import pytest
from tenacity import Future

from qcexec_client import Client, RateLimited, RetryPolicy, Unavailable
from qcexec_client._core import batch_call, get_call


def _state(error: BaseException, attempt: int = 1) -> SimpleNamespace:
    outcome = Future(attempt)
    outcome.set_exception(error)
    return SimpleNamespace(outcome=outcome, attempt_number=attempt)


def test_retry_after_is_honoured_and_capped() -> None:
    policy = RetryPolicy(max_wait=10)
    wait = policy.arguments(get_call("t"))["wait"]
    assert wait(_state(RateLimited(429, "slow down", {}, 7.0))) == 7.0
    assert wait(_state(Unavailable(503, "log down", {}, 60.0))) == 10
    assert 0 < wait(_state(Unavailable(503, "log down", {}, None))) <= 10


def test_a_lost_connection_resends_only_what_cannot_run_twice() -> None:
    lost = httpx.ConnectError("refused")
    assert RetryPolicy().arguments(get_call("t"))["retry"](_state(lost))
    assert not RetryPolicy().arguments(batch_call([]))["retry"](_state(lost))


def test_a_retried_submission_keeps_its_idempotency_key() -> None:
    keys: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers["Idempotency-Key"])
        if len(keys) < 3:
            return httpx.Response(503, json={"detail": "not now"}, headers={"Retry-After": "0"})
        return httpx.Response(202, json={"task_id": "t1", "message": "ok"})

    client = Client("http://qcexec.test", transport=httpx.MockTransport(answer))
    assert client.submit("OPENQASM 3.0;") == "t1"
    assert len(keys) == 3 and len(set(keys)) == 1


def test_the_bound_ends_with_the_server_reason() -> None:
    def busy(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, json={"detail": "Too many"}, headers={"Retry-After": "0"})

    client = Client(
        "http://qcexec.test", retry=RetryPolicy(attempts=2), transport=httpx.MockTransport(busy)
    )
    with pytest.raises(RateLimited, match="Too many") as limited:
        client.get("t")
    assert limited.value.retry_after == 0
