"""Control state lives on the log (docs/architecture.md, guarantees 6 and 7): a cancellation or
a withdrawal is a record on the compacted ``qc.cancellations``, so a view rebuilt from the log
after Redis lost it still has it, and such a task never runs."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from schemas.events import TaskCancelRequested, TaskSubmitted, utcnow
from tests.helpers import BELL, read_topic, wait_for
from tests.stack import MakeStack, Stack


@pytest.fixture(scope="module")
def stack(make_stack: MakeStack) -> Stack:
    """No processor at first: the tasks stay queued until the test adds one."""
    return make_stack(processors=0)


def test_cancelled_and_withdrawn_tasks_never_run_after_the_view_is_lost(stack: Stack) -> None:
    cancelled = stack.submit(BELL, shots=10)
    answer = stack.client.post(f"/tasks/{cancelled}/cancel")
    assert answer.status_code == 202 and answer.json()["state"] == "queued"
    # A submission the API answered 503 for, whose record reached the log after all, and the
    # withdrawal the API appends once the broker is back.
    late = TaskSubmitted(
        task_id=str(uuid.uuid4()), qasm=BELL, shots=10, seed=1, submitted_at=utcnow()
    )
    withdrawal = TaskCancelRequested(task_id=late.task_id, requested_at=utcnow(), withdrawn=True)
    stack.append(late, withdrawal)
    stack.wait_visible(late.task_id)
    marks = {
        r.key.decode()
        for r in read_topic(stack.services.kafka_bootstrap, stack.topics.cancellations)
    }
    assert {cancelled, late.task_id} <= marks

    assert stack.drop_view()
    # The materializer notices the lost view and reads the log again, cancellations included.
    for task_id in (cancelled, late.task_id):
        stack.wait_visible(task_id)
    stack.add_processor()
    done = stack.wait_terminal(cancelled)
    assert done["state"] == "cancelled" and "started_at" not in done
    assert done["error"]["message"] == "cancelled before it started"
    done = stack.wait_terminal(late.task_id)
    assert done["state"] == "cancelled" and "started_at" not in done
    assert "not accepted" in done["error"]["message"]
    # And a task submitted now runs as usual.
    assert stack.wait_terminal(stack.submit(BELL, shots=10))["status"] == "completed"


def test_the_cancellations_topic_is_compacted(stack: Stack) -> None:
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    async def config() -> dict[str, str]:
        admin = AIOKafkaAdminClient(bootstrap_servers=stack.services.kafka_bootstrap)
        await admin.start()
        try:
            resource = ConfigResource(ConfigResourceType.TOPIC, stack.topics.cancellations)
            (response,) = await admin.describe_configs([resource])
            entries = response.resources[0][4]
            return {entry[0]: entry[1] for entry in entries}
        finally:
            await admin.close()

    found = wait_for(lambda: asyncio.run(config()), 30, "the topic's configuration")
    assert found["cleanup.policy"] == "compact"
