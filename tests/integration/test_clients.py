"""What clients get beyond the original two endpoints, through HTTP on the real stack:
lifecycle, cancel, idempotent and batch submission, listing, long-poll and per-shot results."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis

from runtime.view import TaskView
from schemas.events import TaskSubmitted, utcnow
from tests.helpers import BELL, read_topic, wait_for
from tests.hostile import RUNAWAY
from tests.stack import MakeStack, Stack


@pytest.fixture(scope="module")
def stack(make_stack: MakeStack) -> Stack:
    return make_stack(processors=0)


def results_for(stack: Stack, task_id: str) -> list[bytes]:
    records = read_topic(stack.services.kafka_bootstrap, stack.topics.results)
    return [r.value for r in records if r.key == task_id.encode()]


def test_cancel_before_start_never_runs(stack: Stack) -> None:
    # No processor runs yet: the task waits on the log.
    task_id = stack.submit(BELL, shots=10)
    answer = stack.client.post(f"/tasks/{task_id}/cancel")
    assert answer.status_code == 202
    assert answer.json()["state"] == "queued"
    stack.add_processor()
    done = stack.wait_terminal(task_id)
    assert done["state"] == "cancelled" and done["status"] == "error"
    assert done["message"] == "Task cancelled: cancelled before it started"
    assert "started_at" not in done and "result" not in done
    (record,) = results_for(stack, task_id)
    assert b'"status":"cancelled"' in record


def test_a_submission_answered_503_never_runs_if_its_record_reaches_the_log(
    stack: Stack,
) -> None:
    """The API withdraws what it answered 503 for (tests/integration/test_api.py); a record
    the producer held on to may still be appended once the broker is back. Here that late
    record is appended directly, after the withdrawal."""
    if not stack.running_processors():
        stack.add_processor()
    event = TaskSubmitted(
        task_id=str(uuid.uuid4()), qasm=BELL, shots=10, seed=1, submitted_at=utcnow()
    )

    async def withdraw_then_append() -> None:
        redis = Redis.from_url(stack.services.redis_url)
        try:
            await TaskView(redis, stack.prefix).withdraw([event])
        finally:
            await redis.aclose()
        producer = AIOKafkaProducer(bootstrap_servers=stack.services.kafka_bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(
                stack.topics.submitted,
                value=event.encode(),
                key=event.task_id.encode(),
                headers=event.headers(),
            )
        finally:
            await producer.stop()

    asyncio.run(withdraw_then_append())
    # Appended past the API: a 404 until the materializer has read the record.
    stack.wait_visible(event.task_id)
    done = stack.wait_terminal(event.task_id)
    assert done["state"] == "cancelled" and "result" not in done and "started_at" not in done
    assert done["error"] == {
        "code": "cancelled",
        "message": "not accepted: the API answered 503 before the log acknowledged it",
    }
    (record,) = results_for(stack, event.task_id)
    assert b'"status":"cancelled"' in record


def test_cancel_running_task_stops_it_and_the_processor_serves_on(stack: Stack) -> None:
    task_id = stack.submit(RUNAWAY, shots=1)
    running = wait_for(
        lambda: (s := stack.status(task_id))["state"] == "running" and s, 60, "running"
    )
    assert running["status"] == "pending" and running["started_at"]
    answer = stack.client.post(f"/tasks/{task_id}/cancel")
    assert answer.status_code == 202 and answer.json()["state"] == "running"
    done = stack.wait_terminal(task_id)
    assert done["state"] == "cancelled"
    assert done["error"] == {"code": "cancelled", "message": "stopped while running"}
    assert stack.wait_terminal(stack.submit(BELL))["state"] == "completed"


def test_cancel_finished_task_is_409_and_changes_nothing(stack: Stack) -> None:
    task_id = stack.submit(BELL, shots=10)
    before = stack.wait_terminal(task_id)
    answer = stack.client.post(f"/tasks/{task_id}/cancel")
    assert answer.status_code == 409
    assert answer.json()["state"] == "completed"
    assert stack.status(task_id) == before
    assert stack.client.post("/tasks/no-such-task/cancel").status_code == 404


def test_lifecycle_times(stack: Stack) -> None:
    done = stack.wait_terminal(stack.submit(BELL, shots=10))
    assert done["submitted_at"] <= done["started_at"] <= done["finished_at"]
    assert done["duration_ms"] > 0


def test_same_idempotency_key_yields_one_task_and_one_execution(stack: Stack) -> None:
    body = {"qc": BELL, "shots": 30, "seed": 5}
    headers = {"Idempotency-Key": "order-4711"}
    first = stack.client.post("/tasks", json=body, headers=headers)
    second = stack.client.post("/tasks", json=body, headers=headers)
    assert first.status_code == 202 and second.status_code == 200
    task_id = first.json()["task_id"]
    assert second.json()["task_id"] == task_id
    stack.wait_terminal(task_id)
    submitted = read_topic(stack.services.kafka_bootstrap, stack.topics.submitted)
    assert sum(r.key == task_id.encode() for r in submitted) == 1
    assert len(results_for(stack, task_id)) == 1
    other_body = stack.client.post("/tasks", json=body | {"shots": 31}, headers=headers)
    assert other_body.status_code == 422


def test_batch_accepts_the_good_and_explains_the_bad(stack: Stack) -> None:
    batch = {
        "tasks": [
            {"qc": BELL, "shots": 10},
            {"qc": "OPENQASM 3.0;\nqubit q;\nfoo q;\n"},
            {"shots": 3},
            {"qc": BELL, "shots": 20},
        ]
    }
    answer = stack.client.post("/tasks/batch", json=batch)
    assert answer.status_code == 202
    items = answer.json()["tasks"]
    assert [("task_id" in item) for item in items] == [True, False, False, True]
    assert items[1]["error"]["status"] == 400
    assert items[1]["error"]["errors"][0]["line"] == 3
    assert items[2]["error"]["status"] == 422
    shots = [stack.wait_terminal(items[i]["task_id"])["shots"] for i in (0, 3)]
    assert shots == [10, 20]


def test_batch_with_nothing_valid_is_400(stack: Stack) -> None:
    answer = stack.client.post("/tasks/batch", json={"tasks": [{"qc": ""}]})
    assert answer.status_code == 400


def test_long_poll_answers_when_the_task_finishes(stack: Stack) -> None:
    task_id = stack.submit(BELL, shots=10)
    started = time.monotonic()
    answer = stack.client.get(f"/tasks/{task_id}", params={"wait": 25})
    assert answer.json()["state"] == "completed"
    assert time.monotonic() - started < 25  # woken by the completion, not by the deadline


def test_long_poll_of_an_unfinished_task_answers_pending_at_the_deadline(stack: Stack) -> None:
    stuck = stack.submit(RUNAWAY, shots=1)
    answer = stack.client.get(f"/tasks/{stuck}", params={"wait": 1})
    assert answer.status_code == 200 and answer.json()["status"] == "pending"
    stack.client.post(f"/tasks/{stuck}/cancel")
    assert stack.wait_terminal(stuck)["state"] == "cancelled"


def test_list_newest_first_with_cursor_and_state(stack: Stack) -> None:
    ids = [stack.submit(BELL, shots=5, seed=i) for i in range(3)]
    for task_id in ids:
        stack.wait_terminal(task_id)
    first = stack.client.get("/tasks", params={"limit": 2}).json()
    assert [t["task_id"] for t in first["tasks"]] == ids[::-1][:2]
    second = stack.client.get("/tasks", params={"limit": 2, "cursor": first["next_cursor"]})
    assert second.json()["tasks"][0]["task_id"] == ids[0]
    cancelled = stack.client.get("/tasks", params={"state": "cancelled", "limit": 100}).json()
    assert cancelled["tasks"] and all(t["state"] == "cancelled" for t in cancelled["tasks"])


def test_memory_gives_every_shot(stack: Stack) -> None:
    done = stack.wait_terminal(stack.submit(BELL, shots=40, memory=True))
    assert len(done["memory"]) == 40
    assert {bits: done["memory"].count(bits) for bits in set(done["memory"])} == done["result"]
