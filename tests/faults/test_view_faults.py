"""The view survives losing Redis and the materializer (docs/architecture.md, guarantee 6), and
undecodable records go to the dead-letter topic without blocking anything (docs/architecture.md,
guarantee 3)."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import orjson
from aiokafka import AIOKafkaProducer

from deploy.processes import free_port
from tests.helpers import (
    BELL,
    all_terminal,
    all_terminal_or_none,
    read_topic,
    wait_for,
)
from tests.stack import MakeStack, Stack


def test_view_rebuilds_itself_after_redis_lost_it(stack: Stack) -> None:
    task_ids = [stack.submit(BELL, shots=50, seed=i) for i in range(30)]
    before = wait_for(lambda: all_terminal(stack, task_ids), 120, "the first batch")
    assert stack.drop_view() > 30
    assert stack.client.get(f"/tasks/{task_ids[0]}").status_code == 404
    # Nothing new is submitted: the idle materializer notices the loss by itself.
    after = wait_for(lambda: all_terminal_or_none(stack, task_ids), 120, "the rebuilt view")
    assert after == before
    print(f"\nview rebuilt after loss: {len(task_ids)} tasks, 0 missing")


def test_view_rebuilds_on_materializer_start(stack: Stack) -> None:
    task_ids = [stack.submit(BELL, shots=50, seed=100 + i) for i in range(20)]
    before = wait_for(lambda: all_terminal(stack, task_ids), 120, "the batch")
    stack.materializer.stop()
    stack.drop_view()
    stack.materializer.start()
    after = wait_for(lambda: all_terminal_or_none(stack, task_ids), 120, "the rebuilt view")
    assert after == before


def test_materializer_killed_misses_no_result(stack: Stack) -> None:
    stack.materializer.kill()
    task_ids = [stack.submit(BELL, shots=50, seed=200 + i) for i in range(30)]
    stack.materializer.start()
    found = wait_for(lambda: all_terminal(stack, task_ids), 120, "every result in the view")
    assert all(doc["status"] == "completed" for doc in found.values())


def test_undecodable_records_go_to_dead_letter_and_work_goes_on(stack: Stack) -> None:
    garbage = [b"not json", b'{"event": "qc.submitted", "task_id": "x"}', b"\xff\xfe"]

    async def produce() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=stack.services.kafka_bootstrap)
        await producer.start()
        try:
            for i, value in enumerate(garbage):
                await producer.send_and_wait(stack.topics.submitted, value, key=f"bad{i}".encode())
        finally:
            await producer.stop()

    asyncio.run(produce())
    after = stack.submit(BELL, shots=10)
    assert stack.wait_terminal(after)["status"] == "completed"
    dead = wait_for(
        lambda: (
            len(r := read_topic(stack.services.kafka_bootstrap, stack.topics.dead_letter))
            >= len(garbage)
            and r
        ),
        60,
        "dead letters",
    )
    keys = {record.key for record in dead}
    assert keys == {f"bad{i}".encode() for i in range(len(garbage))}
    assert all(b'"reason"' in record.value for record in dead)


def test_an_undecodable_record_keyed_by_a_task_id_still_ends_its_task(stack: Stack) -> None:
    """A record that reached the log but cannot be decoded (a ``null`` where a number must be:
    what a NaN became when the API still accepted one) is dead-lettered, and its task ends
    ``failed`` with ``invalid_record`` and the reason, visible to its owner: never pending."""
    task_id = str(uuid.uuid4())
    value = orjson.dumps(
        {
            "event": "qc.submitted",
            "task_id": task_id,
            "qasm": BELL,
            "parameters": [{"theta": None}],
            "shots": 10,
            "seed": 3,
            "submitted_at": "2026-01-01T00:00:00+00:00",
            "generation": 0,
        }
    )

    async def produce() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=stack.services.kafka_bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(stack.topics.submitted, value, key=task_id.encode())
        finally:
            await producer.stop()

    asyncio.run(produce())
    stack.wait_visible(task_id)
    document = stack.wait_terminal(task_id, timeout=60)
    assert document["state"] == "failed"
    assert document["error"]["code"] == "invalid_record"
    assert "parameters" in document["error"]["message"]
    assert document["seed"] == 3


def test_poison_records_on_results_and_cancellations_are_skipped_and_counted(
    make_stack: MakeStack,
) -> None:
    """Records nothing can decode on ``qc.results`` and ``qc.cancellations``: the materializer
    skips them and counts them (a metric per topic), the processor's control table skips the
    cancellations, and work goes on: never a crash loop."""
    port = free_port()
    stack = make_stack(MATERIALIZER_METRICS_PORT=str(port))

    async def produce() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=stack.services.kafka_bootstrap)
        await producer.start()
        try:
            for topic in (stack.topics.results, stack.topics.cancellations):
                for value in (b"not json", b'{"task_id": 5}', b"\xff"):
                    await producer.send_and_wait(topic, value, key=str(uuid.uuid4()).encode())
        finally:
            await producer.stop()

    asyncio.run(produce())
    after = stack.submit(BELL, shots=10)
    assert stack.wait_terminal(after)["status"] == "completed"
    cancelled = stack.submit(BELL, shots=10)
    stack.client.post(f"/tasks/{cancelled}/cancel")
    assert stack.wait_terminal(cancelled)["state"] in {"cancelled", "completed"}

    def skipped() -> dict[str, float]:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        found = {}
        for line in text.splitlines():
            if line.startswith("qcexec_materializer_skipped_records_total{"):
                topic = line.split('topic="')[1].split('"')[0]
                found[topic] = float(line.rsplit(" ", 1)[1])
        return found

    counted = wait_for(lambda: len(skipped()) == 2 and skipped(), 60, "the skipped records")
    assert counted == {stack.topics.results: 3.0, stack.topics.cancellations: 3.0}
    assert stack.materializer.running and all(p.running for p in stack.processors)
