"""What a valid request becomes on the log: its record (the program read off the event loop,
the workload checked against it), its append (a record the broker did not acknowledge in time
is withdrawn, so that it never runs), and the pending state written through to the view. The
one place both submit routes hand records to the log."""

from __future__ import annotations

import logging
import secrets
import time
import uuid

from redis.exceptions import RedisError

from api.admission import checked_workload
from api.errors import BacklogFull, LimitExceeded
from api.models import MAX_SEED, TaskRequest
from api.submissions import LogUnavailable, SubmissionLog
from programs.limits import check_size
from programs.workers import ProgramReader
from runtime.settings import Settings
from runtime.view import TaskView, submitted_entry
from schemas.events import TaskCancelRequested, TaskSubmitted, utcnow

log = logging.getLogger(__name__)


async def submission(
    body: TaskRequest, settings: Settings, reader: ProgramReader, owner: str | None
) -> TaskSubmitted:
    """The record a valid request becomes. Raises ProgramError or LimitExceeded."""
    limits = settings.limits
    shots = body.shots if body.shots is not None else settings.qc_task_default_shots
    if shots > limits.max_shots:
        raise LimitExceeded("shots", f"shots must be at most {limits.max_shots}")
    check_size(body.qc, limits)
    checked = await reader.check(body.qc, body.method)
    workload = checked_workload(body, checked, shots, settings)
    return TaskSubmitted(
        task_id=str(uuid.uuid4()),
        qasm=body.qc,
        dialect=checked.dialect,
        parameters=workload.points,
        sweep=workload.sweep,
        observables=workload.observables,
        outputs=workload.outputs,
        method=workload.method,
        noise=workload.noise,
        shots=shots,
        seed=body.seed if body.seed is not None else secrets.randbelow(MAX_SEED + 1),
        submitted_at=utcnow(),
        memory=body.memory,
        owner=owner,
        qubits=checked.qubits,
        operations=checked.operations,
    )


class Backlog:
    """Each owner's bound of tasks waiting (``API_OWNER_MAX_WAITING``), counted in the view.

    Redis is asked at most once every ``fresh_s`` while the owner is far below its bound
    (under ``margin`` of it, counting what this API accepted since): the bound is then
    approximate by what other API instances accept within that time, and a submission pays
    no extra round trip."""

    def __init__(
        self, view: TaskView, settings: Settings, fresh_s: float = 1.0, margin: float = 0.9
    ) -> None:
        self.view = view
        self.limit = settings.api_owner_max_waiting
        self.expiry_s = settings.api_owner_waiting_expiry_s
        self.fresh_s = fresh_s
        self.margin = margin
        self._known: dict[str, tuple[int, float]] = {}

    async def check(self, owner: str | None, count: int) -> None:
        """Raise :class:`BacklogFull` (429) when ``count`` more tasks would take the owner
        past its bound; a submission is never refused because Redis cannot count."""
        if not self.limit or not count:
            return
        key, now = owner or "", time.monotonic()
        known = self._known.get(key)
        if known is not None and now - known[1] < self.fresh_s:
            if known[0] + count <= self.limit * self.margin:
                return
        try:
            waiting = await self.view.waiting(owner, self.expiry_s)
        except (RedisError, OSError) as exc:
            # The log is what counts: the bound is loose until Redis is back.
            log.warning("backlog of an owner not counted: %r", exc)
            return
        self._known[key] = (waiting, now)
        if waiting + count > self.limit:
            raise BacklogFull(waiting, self.limit)

    def accepted(self, owner: str | None, count: int) -> None:
        """Count tasks this API accepted since it last asked Redis."""
        known = self._known.get(owner or "")
        if known is not None:
            self._known[owner or ""] = (known[0] + count, known[1])


async def write_through(view: TaskView, events: list[TaskSubmitted]) -> None:
    """So that a GET right after the answer finds the tasks (the materializer writes them from
    the log too, so a failure here loses nothing)."""
    try:
        await view.apply_batch([submitted_entry(event) for event in events], {})
    except (RedisError, OSError) as exc:
        about = {"task_id": events[0].task_id} if len(events) == 1 else {}
        log.warning(
            "pending state of %d task(s) not written through: %r", len(events), exc, extra=about
        )


async def append(
    submissions: SubmissionLog, view: TaskView, events: list[TaskSubmitted]
) -> list[LogUnavailable | None]:
    """Append the records; those the broker did not acknowledge in time are withdrawn, so that
    none of them runs should it reach the log after all (see ``TaskView.withdraw``)."""
    failures = await submissions.append_all(events)
    refused = [event for event, failure in zip(events, failures, strict=True) if failure]
    if refused:
        try:
            await view.withdraw(refused)
        except (RedisError, OSError) as exc:
            about = {"task_id": refused[0].task_id} if len(refused) == 1 else {}
            log.warning("%d task(s) answered 503 not withdrawn: %r", len(refused), exc, extra=about)
        # On the log too, once the broker is back: a view rebuilt from the log has them.
        submissions.append_later(
            [
                TaskCancelRequested(
                    task_id=event.task_id,
                    requested_at=utcnow(),
                    generation=event.generation,
                    withdrawn=True,
                )
                for event in refused
            ]
        )
    return failures


async def append_one(submissions: SubmissionLog, view: TaskView, event: TaskSubmitted) -> None:
    (failure,) = await append(submissions, view, [event])
    if failure is not None:
        raise failure
