"""Helpers shared by the test modules (no test module imports another): a program, waiting,
reading a topic, settings for an in-process API, and the view's answers for many tasks."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord

from runtime.settings import Settings

if TYPE_CHECKING:
    from tests.services import Services
    from tests.stack import Stack

TERMINAL = {"completed", "failed", "cancelled"}

BELL = """OPENQASM 3.0;
include "stdgates.inc";
bit[2] c;
qubit[2] q;
h q[0];
cx q[0], q[1];
c[0] = measure q[0];
c[1] = measure q[1];
"""


def wait_for(condition: Callable[[], object], timeout: float, what: str, every: float = 0.1):
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


async def _read_topic(bootstrap: str, topic: str) -> list[ConsumerRecord]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = consumer.assignment() or set()
        while not partitions:
            await asyncio.sleep(0.1)
            partitions = consumer.assignment()
        end = await consumer.end_offsets(list(partitions))
        records: list[ConsumerRecord] = []

        async def behind() -> bool:
            return any([await consumer.position(tp) < end[tp] for tp in partitions])

        while await behind():
            for batch in (await consumer.getmany(timeout_ms=1000)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


def read_topic(bootstrap: str, topic: str) -> list[ConsumerRecord]:
    """Every record now on a topic, from the beginning."""
    return asyncio.run(_read_topic(bootstrap, topic))


def medium_program(seed: int, qubits: int = 12, depth: int = 8) -> str:
    """A random circuit that takes the simulator a noticeable while (tens of milliseconds)."""
    from qiskit import qasm3
    from qiskit.circuit.random import random_circuit

    return qasm3.dumps(random_circuit(qubits, depth, measure=True, seed=seed))


def settings_for(services: Services, **overrides: object) -> Settings:
    """Settings of an in-process API on topics and keys of its own, with small limits."""
    prefix = f"t{uuid.uuid4().hex[:8]}."
    base = dict(
        kafka_bootstrap_servers=services.kafka_bootstrap,
        redis_host=services.redis_host,
        redis_port=services.redis_port,
        redis_prefix=prefix,
        qc_topic_prefix=prefix,
        qc_task_max_qubits=4,
        qc_task_max_shots=1000,
        qc_task_default_shots=100,
        api_max_request_bytes=2048,
    )
    return Settings(**(base | overrides))


def states(stack: Stack, task_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Each task's GET document."""
    return {task_id: stack.status(task_id) for task_id in task_ids}


def all_terminal(stack: Stack, task_ids: list[str]) -> dict[str, dict[str, Any]] | None:
    """Each task's GET document once every one of them is terminal, else None."""
    found = states(stack, task_ids)
    return found if all(doc["state"] in TERMINAL for doc in found.values()) else None


def all_terminal_or_none(stack: Stack, task_ids: list[str]) -> dict[str, dict[str, Any]] | None:
    """As :func:`all_terminal`, and None while the view does not know them all yet (404)."""
    responses = [stack.client.get(f"/tasks/{task_id}") for task_id in task_ids]
    if any(r.status_code != 200 for r in responses):
        return None
    return all_terminal(stack, task_ids)
