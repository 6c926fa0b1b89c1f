"""``GET /usage``: each caller's tasks by the state they ended in, their shots and seconds of
running, counted as outcomes land in the view (runtime/view/usage.py): once per outcome
however many times its record is read, from the log (a rebuilt view answers the same), and
only the caller's own."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from qcexec_client import Client

from api.auth import owner_of
from runtime.redis_client import redis_client
from runtime.settings import Settings
from runtime.view import TaskView
from schemas.events import TaskResult, TaskSubmitted, utcnow
from tests.helpers import BELL, TERMINAL, read_topic, wait_for
from tests.stack import MakeStack, Stack, cli

ALICE = {"Authorization": "Bearer alice-key"}
BOB = {"Authorization": "Bearer bob-key"}
#: Read by the processor, refused by its reader: the task ends failed (invalid_program).
BROKEN = 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[1] q;\nnot_a_gate q[0];\n'


@pytest.fixture(scope="module")
def keyed(make_stack: MakeStack) -> Stack:
    return make_stack(API_KEYS="alice-key,bob-key")


def submit(stack: Stack, key: dict[str, str], shots: int, seed: int) -> str:
    answer = stack.client.post(
        "/tasks", json={"qc": BELL, "shots": shots, "seed": seed}, headers=key
    )
    assert answer.status_code == 202, answer.text
    return answer.json()["task_id"]


def ended(stack: Stack, key: dict[str, str], task_ids: list[str]) -> dict[str, dict[str, Any]]:
    def docs() -> dict[str, dict[str, Any]] | None:
        found = {t: stack.client.get(f"/tasks/{t}", headers=key).json() for t in task_ids}
        return found if all(d.get("state") in TERMINAL for d in found.values()) else None

    return wait_for(docs, 120, "the tasks to end")


def usage(stack: Stack, key: dict[str, str], **window: str) -> dict[str, Any]:
    """The figures of ``GET /usage`` (not its window's ends)."""
    answer = stack.client.get("/usage", params=window, headers=key)
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found.keys() == {"since", "until", "tasks", "shots", "run_seconds"}
    return {name: found[name] for name in ("tasks", "shots", "run_seconds")}


async def _publish_again(stack: Stack, records: list[Any]) -> dict[int, int]:
    """The records appended to qc.results once more; the last offset written per partition."""
    producer = AIOKafkaProducer(bootstrap_servers=stack.services.kafka_bootstrap)
    await producer.start()
    try:
        last: dict[int, int] = {}
        for record in records:
            sent = await producer.send_and_wait(
                stack.topics.results, record.value, key=record.key, headers=list(record.headers)
            )
            last[sent.partition] = max(last.get(sent.partition, -1), sent.offset)
        return last
    finally:
        await producer.stop()


async def _read_past(stack: Stack, last: dict[int, int]) -> bool:
    """Whether the view's materializer has read every partition of qc.results past ``last``."""
    settings = Settings(redis_host=stack.services.redis_host, redis_port=stack.services.redis_port)
    redis = redis_client(settings)
    try:
        stored = await TaskView(redis, stack.prefix).offsets()
    finally:
        await redis.aclose()
    return all(
        stored.get(f"{stack.topics.results}:{partition}", -1) > offset
        for partition, offset in last.items()
    )


def test_usage_counts_each_outcome_once_for_its_owner_and_survives_a_rebuild(keyed: Stack) -> None:
    stack = keyed
    started = datetime.now(UTC)
    alice = [submit(stack, ALICE, shots, seed) for seed, shots in enumerate((100, 200, 300))]
    bob = [submit(stack, BOB, 50, 9)]
    broken = TaskSubmitted(
        task_id=f"broken-{stack.prefix}", qasm=BROKEN, shots=40, seed=1,
        submitted_at=utcnow(), owner=owner_of("alice-key"),
    )  # fmt: skip
    stack.append(broken)
    alice_docs = ended(stack, ALICE, [*alice, broken.task_id])
    ended(stack, BOB, bob)
    assert alice_docs[broken.task_id]["state"] == "failed"

    # An independent account: the tasks' own documents.
    expected_seconds = round(sum(d["duration_ms"] for d in alice_docs.values()) / 1000, 3)
    mine = usage(stack, ALICE)
    assert mine["tasks"] == {"completed": 3, "failed": 1, "cancelled": 0}
    assert mine["shots"] == 100 + 200 + 300 + 40
    assert mine["run_seconds"] == pytest.approx(expected_seconds, abs=0.002)
    with Client(stack.url, api_key="alice-key") as client:  # the Python client's way
        through_client = client.usage(since=started - timedelta(hours=1))
    assert through_client.tasks == mine["tasks"] and through_client.shots == mine["shots"]
    theirs = usage(stack, BOB)
    assert theirs["tasks"] == {"completed": 1, "failed": 0, "cancelled": 0}
    assert theirs["shots"] == 50
    # A window before any of it: nothing.
    before = started - timedelta(hours=3)
    empty = usage(
        stack, ALICE, since=before.isoformat(), until=(before + timedelta(hours=1)).isoformat()
    )
    assert empty["tasks"] == {"completed": 0, "failed": 0, "cancelled": 0} and empty["shots"] == 0

    # Every outcome's record read again (a redelivery): counted once all the same.
    records = [
        r for r in read_topic(stack.services.kafka_bootstrap, stack.topics.results)
        if TaskResult.decode(r.value).task_id in alice_docs
    ]  # fmt: skip
    assert len(records) == 4
    last = asyncio.run(_publish_again(stack, records))
    wait_for(lambda: asyncio.run(_read_past(stack, last)), 60, "the records read again")
    assert usage(stack, ALICE) == mine

    # The view lost and rebuilt from the log: the same figures.
    stack.materializer.stop()
    try:
        assert stack.drop_view() > 0
        assert usage(stack, ALICE)["shots"] == 0
        assert "is active" in cli(stack, "rebuild-view")
        rebuilt = usage(stack, ALICE)
        assert rebuilt["tasks"] == mine["tasks"] and rebuilt["shots"] == mine["shots"]
        assert rebuilt["run_seconds"] == pytest.approx(mine["run_seconds"], abs=0.002)
    finally:
        stack.materializer.start()


def test_a_window_backwards_or_too_long_is_refused(keyed: Stack) -> None:
    now = datetime.now(UTC)
    backwards = keyed.client.get(
        "/usage",
        params={"since": now.isoformat(), "until": (now - timedelta(hours=2)).isoformat()},
        headers=ALICE,
    )
    assert backwards.status_code == 422
    assert backwards.json()["detail"][0]["loc"] == ["query", "since"]
    too_long = keyed.client.get(
        "/usage", params={"since": (now - timedelta(days=40)).isoformat()}, headers=ALICE
    )
    assert too_long.status_code == 422
    assert too_long.json()["detail"][0]["type"] == "limit_exceeded"
    naive = keyed.client.get("/usage", params={"since": "2026-01-01T00:00:00"}, headers=ALICE)
    assert naive.status_code == 422  # a moment without its offset is ambiguous
    assert keyed.client.get("/usage").status_code == 401  # keys on: whose usage?
