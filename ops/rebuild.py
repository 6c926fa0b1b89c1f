"""``qcexec rebuild-view``: a new Redis view from the whole log, built beside the live one.

The new view gets its own prefix (``{base}v{ms}:``) and is filled from offset 0 of
``qc.submitted``, ``qc.results`` and ``qc.cancellations`` (so it has every cancellation and
withdrawal) while the API keeps answering from the active view; live
writes (pending states written through at submit, claims, cancellations) go to both meanwhile.
Once the new view has read every partition at least as far as the active one, one atomic step
makes it active (so no answer ever goes backwards) and the old view is deleted. The running
materializer notices the switch on its next write and carries on from the new view's offsets.
One rebuild runs at a time: a second one stops at once (:class:`~runtime.view.RebuildInProgress`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer

from materializer.records import BATCH_RECORDS, offsets_field, view_entries
from ops.log import behind
from runtime.view import TaskView
from schemas.topics import Topics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rebuilt:
    view: str  # the prefix of the new, now active view
    replaced: str  # the prefix of the view it replaced (now deleted)
    records: int  # records read from the log
    deleted_keys: int


async def rebuild_view(
    consumer: AIOKafkaConsumer,
    view: TaskView,
    topics: Topics,
    progress: Callable[[int, int], None] | None = None,
) -> Rebuilt:
    """Build and switch to a new view. ``consumer`` is assigned every partition of both topics
    (:func:`ops.log.reader`); ``progress`` is told (records read, records to read)."""
    target = f"{view.prefix}v{time.time_ns() // 1_000_000}:"
    partitions = list(consumer.assignment())
    await consumer.seek_to_beginning(*partitions)
    await view.start_building(target)  # RebuildInProgress when another rebuild runs
    records = 0
    replaced: str | None = None
    try:
        while replaced is None:
            stops = await consumer.end_offsets(partitions)
            await view.keep_building(target)
            while await behind(consumer, stops):
                await view.keep_building(target)
                batch = await consumer.getmany(timeout_ms=500, max_records=BATCH_RECORDS)
                entries, offsets = view_entries(topics, batch)
                await view.apply_batch(entries, offsets, view=target)
                records += sum(len(found) for found in batch.values())
                if progress is not None:
                    progress(records, sum(stops.values()))
            # Partitions without records: recorded too, so that the materializer does not read
            # them from the beginning again after the switch.
            positions = {offsets_field(tp): await consumer.position(tp) for tp in partitions}
            await view.apply_batch([], positions, view=target)
            replaced = await view.switch(target)  # None: the live view moved on meanwhile
    except BaseException:
        await view.stop_building(target)
        await view.drop(target)
        raise
    deleted = await view.drop(replaced)
    log.info(
        "view %s replaced %s (%d records, %d keys deleted)", target, replaced, records, deleted
    )
    return Rebuilt(target, replaced, records, deleted)
