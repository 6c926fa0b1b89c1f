"""What a batch of the log's records does to the view (materializer/records.py, shared by the
materializer and rebuild-view): real encoded records in real aiokafka ``ConsumerRecord``s, the
entries and offsets they become, undecodable ones skipped."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from aiokafka import ConsumerRecord, TopicPartition

from materializer.records import Batch, offsets_field, view_entries
from runtime.view import Rank, mark_entry, result_entry, submitted_entry
from schemas.events import TaskCancelRequested, TaskError, TaskResult, TaskSubmitted
from schemas.topics import Topics

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
#: Prefixed: the records are routed by the topics given, not by the default names.
TOPICS = Topics.with_prefix("t7-")

SUBMITTED = TaskSubmitted(
    task_id="a", qasm="OPENQASM 3.0;", shots=10, seed=1, submitted_at=NOW, owner="o", generation=2
)
RESULT = TaskResult(
    task_id="b",
    status="failed",
    error=TaskError(code="invalid_program", message="line 1"),
    shots=10,
    seed=1,
    generation=4,
    submitted_at=NOW,
    started_at=NOW,
    finished_at=NOW,
    duration_ms=1.5,
    processor="p",
)
CANCELLED = TaskCancelRequested(task_id="c", requested_at=NOW, generation=3)
WITHDRAWN = TaskCancelRequested(task_id="d", requested_at=NOW, withdrawn=True)


def record(tp: TopicPartition, offset: int, value: bytes | None) -> ConsumerRecord:
    return ConsumerRecord(
        topic=tp.topic,
        partition=tp.partition,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=b"k",
        value=value,
        checksum=None,
        serialized_key_size=1,
        serialized_value_size=len(value or b""),
        headers=[],
    )


def test_each_topics_records_become_their_entries_with_each_partitions_offset() -> None:
    submitted, results = TopicPartition(TOPICS.submitted, 0), TopicPartition(TOPICS.results, 1)
    cancellations = TopicPartition(TOPICS.cancellations, 2)
    later = SUBMITTED.model_copy(update={"task_id": "a2", "generation": 0})
    batch: Batch = {
        submitted: [
            record(submitted, 10, SUBMITTED.encode()),
            record(submitted, 11, later.encode()),
        ],
        results: [record(results, 4, RESULT.encode())],
        cancellations: [
            record(cancellations, 0, CANCELLED.encode()),
            record(cancellations, 1, WITHDRAWN.encode()),
        ],
    }
    entries, offsets = view_entries(TOPICS, batch)

    assert entries == [
        submitted_entry(SUBMITTED),
        submitted_entry(later),
        result_entry(RESULT),
        mark_entry(CANCELLED),
        mark_entry(WITHDRAWN),
    ]
    assert [(e.task_id, e.rank, e.generation) for e in entries] == [
        ("a", Rank.QUEUED, 2),
        ("a2", Rank.QUEUED, 0),
        ("b", Rank.TERMINAL, 4),
        ("c", Rank.CANCEL_MARK, 3),
        ("d", Rank.WITHDRAWN_MARK, 0),
    ]
    assert entries[0].owner == "o" and orjson.loads(entries[0].doc)["state"] == "queued"
    assert orjson.loads(entries[2].doc)["state"] == "failed"
    assert entries[3].doc == b"" and entries[3].owner is None  # marks leave the document
    # The next offset to read, per partition, under the view's name for it.
    assert offsets == {
        f"{TOPICS.submitted}:0": 12,
        f"{TOPICS.results}:1": 5,
        f"{TOPICS.cancellations}:2": 2,
    }
    assert offsets_field(results) == "t7-qc.results:1"


def test_undecodable_records_are_skipped_and_their_offsets_still_advance() -> None:
    submitted, results = TopicPartition(TOPICS.submitted, 0), TopicPartition(TOPICS.results, 0)
    cancellations = TopicPartition(TOPICS.cancellations, 3)
    broken = orjson.loads(SUBMITTED.encode()) | {"shots": -1}
    batch: Batch = {
        submitted: [
            record(submitted, 0, b"{not json"),
            record(submitted, 1, SUBMITTED.encode()),
            record(submitted, 2, orjson.dumps(broken)),  # fails validation
            record(submitted, 3, RESULT.encode()),  # a result on the submissions' topic
        ],
        results: [record(results, 7, None)],  # a tombstone-like empty record
        cancellations: [record(cancellations, 9, b"[]")],
    }
    skipped: list[str] = []
    entries, offsets = view_entries(TOPICS, batch, skipped.append)

    assert entries == [submitted_entry(SUBMITTED)]
    assert skipped == [TOPICS.submitted] * 3 + [TOPICS.results, TOPICS.cancellations]
    assert offsets == {
        f"{TOPICS.submitted}:0": 4,
        f"{TOPICS.results}:0": 8,
        f"{TOPICS.cancellations}:3": 10,
    }
    # Without a callback, the same entries and offsets.
    assert view_entries(TOPICS, batch) == (entries, offsets)


def test_a_partition_without_records_records_no_offset() -> None:
    submitted = TopicPartition(TOPICS.submitted, 0)
    empty = TopicPartition(TOPICS.results, 5)
    batch: Batch = {submitted: [record(submitted, 0, SUBMITTED.encode())], empty: []}
    assert view_entries(TOPICS, batch)[1] == {f"{TOPICS.submitted}:0": 1}
    assert view_entries(TOPICS, {}) == ([], {})
