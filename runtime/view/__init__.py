"""The Redis view the API reads: one document per task, already in the GET response shape.

Every write goes through Lua scripts that order a task's states by (generation, rank), with
rank queued < running < terminal, and never let a terminal outcome give way to a pending state.
So the view never moves backwards; the first terminal outcome of a generation is kept (a late
duplicate from an at-least-once redelivery changes nothing), and a replay's newer outcome
replaces an older one only once it is there.

The view lives under a *view prefix*; the key ``{base}active`` names the one in use (the base
prefix itself when unset), and every script resolves it, so ``rebuild-view`` can build a new
view beside the live one (``{base}building`` names it: live writes go to both) and switch in
one step once it has caught up. Under a view prefix: ``task:{id}`` (hash: rank,
gen, doc, owner, cancel, withdrawn), ``index:{owner}`` (task ids by submission time) and
``offsets`` (the next log offset per ``topic:partition``, written in the same script as the
documents, so the view and its position in the log never disagree). Under the base prefix:
the pub/sub channel ``done`` (ids of tasks that reached a terminal state), idempotency keys
and rate-limit buckets.

Its parts: the Lua scripts (``lua/*.lua``, loaded by :mod:`~runtime.view.scripts`), the words
shared with the API and the processor (:mod:`~runtime.view.states`: states, ranks, claims), the
documents (:mod:`~runtime.view.documents`), the store (:mod:`~runtime.view.store`), the rebuild
lifecycle (:mod:`~runtime.view.lifecycle`) and the API's notifier
(:mod:`~runtime.view.notifier`). Everything is importable from ``runtime.view``.
"""

from __future__ import annotations

from runtime.view.documents import (
    RANK_CANCEL_MARK,
    RANK_QUEUED,
    RANK_RUNNING,
    RANK_TERMINAL,
    RANK_WITHDRAWN_MARK,
    ViewEntry,
    mark_entry,
    result_entry,
    running_entry,
    submitted_entry,
)
from runtime.view.lifecycle import BUILDING_TTL_S, SCAN_BATCH, RebuildInProgress, ViewLifecycle
from runtime.view.notifier import Notifier
from runtime.view.states import PENDING_MESSAGE, TERMINAL_STATES, Claim, Rank, State
from runtime.view.store import StalePosition, TaskRecord, TaskView

__all__ = [
    "BUILDING_TTL_S",
    "PENDING_MESSAGE",
    "RANK_CANCEL_MARK",
    "RANK_QUEUED",
    "RANK_RUNNING",
    "RANK_TERMINAL",
    "RANK_WITHDRAWN_MARK",
    "SCAN_BATCH",
    "TERMINAL_STATES",
    "Claim",
    "Notifier",
    "Rank",
    "RebuildInProgress",
    "StalePosition",
    "State",
    "TaskRecord",
    "TaskView",
    "ViewEntry",
    "ViewLifecycle",
    "mark_entry",
    "result_entry",
    "running_entry",
    "submitted_entry",
]
