"""What each owner used, counted in the view as outcomes reach it: tasks by the state they
ended in, shots run and seconds of running, by the hour their outcome came (``GET /usage``).

Counted by ``store.lua`` in the same step that writes an outcome, and only when that write
moves the task forward: an outcome the view already holds (the processor's write-through, then
the materializer's copy of the same record, or a record read twice) counts once. It is counted
from the log's records, so a view rebuilt from the log (``qcexec rebuild``) has the same
figures. A replay (a new generation) runs the task again and counts again.

Each hour of each owner is one hash, ``<view>usage:<owner>:<YYYYMMDDHH>`` (UTC), with a field
per terminal state, ``shots`` and ``run_ms``, kept ``USAGE_TTL_S`` after its last count."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from runtime.view.states import State

#: The key of an owner's hour of usage, after the view's prefix (then the owner, ':', the
#: hour). Given to the Lua scripts as ``USAGE`` (runtime/view/scripts.py): its one source.
USAGE_KEY = "usage:"
#: How long an hour's figures are kept after its last count (given to Lua as USAGE_TTL_S).
USAGE_TTL_S = 400 * 24 * 3600
#: The longest window one ``GET /usage`` adds up (hours).
MAX_WINDOW_HOURS = 31 * 24
HOUR_FORMAT = "%Y%m%d%H"
ENDED = (State.COMPLETED, State.FAILED, State.CANCELLED)


def hour_of(moment: datetime) -> str:
    """The hour bucket of a moment (UTC)."""
    return moment.astimezone(UTC).strftime(HOUR_FORMAT)


def usage_arg(finished_at: datetime, state: str, shots: int, run_ms: float) -> str:
    """What an outcome's entry tells ``store.lua`` to count: its hour, state, shots (0 when it
    did not run) and milliseconds of running, separated by spaces."""
    return f"{hour_of(finished_at)} {state} {max(shots, 0)} {max(run_ms, 0.0):.3f}"


def hours(since: datetime, until: datetime) -> list[str]:
    """The hour buckets from the one holding ``since`` up to the one holding ``until``."""
    first = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    last = until.astimezone(UTC)
    found = []
    while first <= last:
        found.append(first.strftime(HOUR_FORMAT))
        first += timedelta(hours=1)
    return found


@dataclass(frozen=True)
class Usage:
    """An owner's figures over some hours."""

    tasks: dict[str, int]
    shots: int
    run_seconds: float

    @classmethod
    def add_up(cls, buckets: list[dict[bytes, bytes]]) -> Usage:
        tasks = dict.fromkeys((str(state) for state in ENDED), 0)
        shots, run_ms = 0, 0.0
        for bucket in buckets:
            for state in tasks:
                tasks[state] += int(bucket.get(state.encode(), 0))
            shots += int(bucket.get(b"shots", 0))
            run_ms += float(bucket.get(b"run_ms", 0))
        return cls(tasks, shots, round(run_ms / 1000, 3))
