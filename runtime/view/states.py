"""The words the view, the API and the processor share about a task: its states, the ranks
that order them in the view, and what claiming a task for a run can answer."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class State(StrEnum):
    """A task's ``state`` in its GET document."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL_STATES = frozenset({State.COMPLETED, State.FAILED, State.CANCELLED})


class Rank(IntEnum):
    """How far a task has come, as the view orders its writes (``store.lua``): queued <
    running < terminal. The negative ranks are marks: a task cancelled, or withdrawn, up to
    a generation; they leave its document as it is."""

    WITHDRAWN_MARK = -2
    CANCEL_MARK = -1
    QUEUED = 0
    RUNNING = 1
    TERMINAL = 2


#: What ``cancel.lua`` answers for a task it does not know (for this owner): no rank at all.
NO_SUCH_TASK = -1


class Claim(StrEnum):
    """What the view answers the processor claiming a task to run it (``claim.lua``)."""

    RUN = "run"  # it is now running
    CANCELLED = "cancelled"  # a client cancelled it before it started
    WITHDRAWN = "withdrawn"  # the API answered 503 for it
    DONE = "done"  # it already has an outcome of this generation or a newer one


PENDING_MESSAGE = "Task is still in progress."


#: The key (after the view's base prefix, then the owner) of an owner's tasks accepted and not
#: yet terminal, which the API counts to bound each owner's backlog. Given to the Lua scripts
#: as ``WAITING`` (runtime/view/scripts.py): this is its one source.
WAITING_KEY = "waiting:"
