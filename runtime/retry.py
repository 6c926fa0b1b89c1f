"""The one retry policy of the service: which errors are worth another try, and how to wait.

Retryable: the broker or Redis is away or slow (connection errors, time-outs, leader changes:
aiokafka's ``KafkaError.retriable`` and its time-outs; Redis's connection and time-out errors).
Everything else is permanent (a record too large, a serialization error, an authorization
failure, a bug): it is raised at once, for the caller to end the task or dead-letter the record,
never retried. Waits grow exponentially with jitter (tenacity), so that many clients that lost
the same broker do not come back in step. A client waiting for an answer is never held by a
retry: the API answers 503 once its own time limit passes (``API_SUBMIT_TIMEOUT_S``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_never,
    wait_exponential_jitter,
)

T = TypeVar("T")


def retryable(exc: BaseException) -> bool:
    """Whether another try may succeed where this one failed."""
    if isinstance(exc, KafkaTimeoutError | KafkaConnectionError):
        return True
    if isinstance(exc, KafkaError):
        return bool(exc.retriable)
    if isinstance(exc, RedisConnectionError | RedisTimeoutError):
        return True
    return isinstance(exc, TimeoutError | ConnectionError | OSError)


def _policy(
    what: str,
    log: logging.Logger,
    *,
    initial_s: float = 0.1,
    max_wait_s: float = 5.0,
    on_wait: Callable[[], None] | None = None,
) -> AsyncRetrying:
    """Retries of retryable errors, until one try succeeds or a permanent error comes: the
    callers are loops that cannot progress without the broker or Redis. ``on_wait`` runs before
    each pause (the materializer's liveness heartbeat)."""

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0
        log.warning(
            "%s failed (attempt %d), retrying in %.1f s: %r", what, state.attempt_number, wait, exc
        )
        if on_wait is not None:
            on_wait()

    return AsyncRetrying(
        retry=retry_if_exception(retryable),
        wait=wait_exponential_jitter(multiplier=initial_s, max=max_wait_s, jitter=initial_s),
        stop=stop_never,
        before_sleep=before_sleep,
        reraise=True,
    )


async def call(
    function: Callable[..., Awaitable[T]],
    *args: Any,
    what: str,
    log: logging.Logger,
    **options: Any,
) -> T:
    """``function(*args)`` under :func:`_policy` (``options`` are its own). The first try is a
    plain call, so the common case costs no more than the call itself; the policy is made and
    takes over at the first retryable error, and a permanent one is raised as it is."""
    try:
        return await function(*args)
    except Exception as exc:
        if not retryable(exc):
            raise
        log.warning("%s failed, retrying: %r", what, exc)
    return await _policy(what, log, **options)(function, *args)
