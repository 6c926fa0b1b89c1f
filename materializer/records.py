"""What the log's records do to the view: shared by the materializer, which applies them as
they come, and by ``rebuild-view``, which applies the whole log to a new view."""

from __future__ import annotations

import logging
from collections.abc import Callable

import orjson
from aiokafka import ConsumerRecord, TopicPartition
from pydantic import ValidationError

from runtime.view import ViewEntry, mark_entry, result_entry, submitted_entry
from schemas.events import TaskCancelRequested, TaskResult, TaskSubmitted
from schemas.topics import Topics

log = logging.getLogger(__name__)

#: Records read from the log and written to the view in one step.
BATCH_RECORDS = 500

Batch = dict[TopicPartition, list[ConsumerRecord]]


def offsets_field(tp: TopicPartition) -> str:
    """The view's name for a partition in its ``offsets`` hash."""
    return f"{tp.topic}:{tp.partition}"


def view_entries(
    topics: Topics, batch: Batch, skipped: Callable[[str], None] | None = None
) -> tuple[list[ViewEntry], dict[str, int]]:
    """What a batch of records does to the view, and the offsets to record with it.
    Undecodable records are skipped (the processor sends bad submissions to the dead-letter
    topic); their offsets still advance, and ``skipped`` is told each one's topic."""
    decoders: dict[str, Callable[[bytes], ViewEntry]] = {
        topics.submitted: lambda raw: submitted_entry(TaskSubmitted.decode(raw)),
        topics.results: lambda raw: result_entry(TaskResult.decode(raw)),
        topics.cancellations: lambda raw: mark_entry(TaskCancelRequested.decode(raw)),
    }
    entries: list[ViewEntry] = []
    offsets: dict[str, int] = {}
    for tp, records in batch.items():
        for record in records:
            try:
                entries.append(decoders[tp.topic](record.value))
            except (orjson.JSONDecodeError, ValidationError, TypeError) as exc:
                log.warning("skipping undecodable record on %s: %s", tp.topic, exc)
                if skipped is not None:
                    skipped(tp.topic)
        if records:
            offsets[offsets_field(tp)] = records[-1].offset + 1
    return entries, offsets
