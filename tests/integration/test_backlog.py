"""Each owner's backlog is bounded (API_OWNER_MAX_WAITING): past it a submission is a 429
with Retry-After, a batch is refused whole, another key is not affected, and once tasks end
the owner may submit again (the count follows the view's outcomes)."""

from __future__ import annotations

import pytest

from tests.helpers import BELL, wait_for
from tests.stack import MakeStack, Stack

LIMIT = 4
KEYS = {"A": "key-a-backlog", "B": "key-b-backlog"}


@pytest.fixture(scope="module")
def stack(make_stack: MakeStack) -> Stack:
    """No processor at first: the tasks stay waiting until the test adds one."""
    return make_stack(
        processors=0, API_OWNER_MAX_WAITING=str(LIMIT), API_KEYS=",".join(KEYS.values())
    )


def submit(stack: Stack, owner: str, path: str = "/tasks", **body: object):
    headers = {"Authorization": f"Bearer {KEYS[owner]}"}
    return stack.client.post(path, json=body or {"qc": BELL, "shots": 10}, headers=headers)


def test_an_owner_past_its_backlog_gets_429_until_its_tasks_end(stack: Stack) -> None:
    accepted = [submit(stack, "A") for _ in range(LIMIT)]
    assert [answer.status_code for answer in accepted] == [202] * LIMIT
    refused = submit(stack, "A")
    assert refused.status_code == 429 and refused.headers["Retry-After"].isdigit()
    assert "API_OWNER_MAX_WAITING" in refused.json()["detail"]
    batch = submit(stack, "A", "/tasks/batch", tasks=[{"qc": BELL, "shots": 10}])
    assert batch.status_code == 429
    # Another owner is not held by A's backlog.
    assert submit(stack, "B").status_code == 202
    # Once A's tasks end, A may submit again.
    stack.add_processor()
    headers = {"Authorization": f"Bearer {KEYS['A']}"}
    for answer in accepted:
        task_id = answer.json()["task_id"]
        wait_for(
            lambda t=task_id: (
                stack.client.get(f"/tasks/{t}", headers=headers).json()["state"] == "completed"
            ),
            120,
            f"task {task_id}",
        )
    assert submit(stack, "A").status_code == 202
