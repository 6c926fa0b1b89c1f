"""``Client`` and ``AsyncClient`` against a running service: submit (one, a batch, a sweep),
get, long-poll, list, cancel, idempotent retries, and the exceptions for each refusal."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from qcexec_client import (
    AsyncClient,
    Client,
    Conflict,
    InvalidProgram,
    NotFound,
    Refused,
    Task,
    TaskFailed,
    task_body,
)

SWEEP = """OPENQASM 3.0;
include "stdgates.inc";
input float theta;
qubit[2] q;
bit[2] c;
ry(theta) q[0];
cx q[0], q[1];
c = measure q;
"""


def test_submit_wait_get_and_list(url: str, bell: str) -> None:
    with Client(url) as client:
        task_id = client.submit(bell, shots=200, seed=3)
        done = client.wait(task_id, timeout=120)
        assert isinstance(done, Task) and done.state == "completed" and done.done
        assert set(done.result) <= {"00", "11"} and sum(done.result.values()) == 200
        assert client.get(task_id).result == done.result
        page = client.list(state="completed", limit=100)
        assert task_id in {task.task_id for task in page.tasks}


def test_a_sweep_with_observables(url: str) -> None:
    with Client(url) as client:
        points = [{"theta": 0.0}, {"theta": 3.141592653589793}]
        done = client.run(SWEEP, parameters=points, observables=["ZZ", {"ZI": 2.0}], shots=0)
    assert [p.parameters for p in done.points] == points
    assert [p.expectation_values for p in done.points] == [[1.0, 2.0], pytest.approx([1.0, -2.0])]


def test_the_same_idempotency_key_runs_one_task(url: str, bell: str) -> None:
    key = f"test-{uuid.uuid4()}"
    with Client(url) as client:
        first = client.submit(bell, shots=10, idempotency_key=key)
        assert client.submit(bell, shots=10, idempotency_key=key) == first
        with pytest.raises(Refused) as refused:
            client.submit(bell, shots=11, idempotency_key=key)
        assert refused.value.fields == ["Idempotency-Key"]
        # Without a key of the caller's, every call makes its own: two tasks.
        assert client.submit(bell, shots=10) != client.submit(bell, shots=10)


def test_refusals_carry_the_server_reason(url: str, bell: str) -> None:
    with Client(url) as client:
        with pytest.raises(InvalidProgram) as invalid:
            client.submit("OPENQASM 3.0;\nqubit q;\nh q\n")
        assert invalid.value.status == 400 and invalid.value.errors[0]["line"]
        with pytest.raises(Refused) as refused:
            client.submit(bell, shots=10**9)
        assert refused.value.fields == ["shots"] and "shots" in refused.value.reason
        with pytest.raises(NotFound):
            client.get(str(uuid.uuid4()))
        items = client.submit_batch([task_body(bell, shots=5), task_body("not qasm")])
        assert items[0].task_id and items[1].error["status"] == 400


def test_cancel_and_a_failed_task(url: str, bell: str) -> None:
    with Client(url) as client:
        task_id = client.submit(bell, shots=10)
        try:
            assert client.cancel(task_id).state in ("queued", "running")
        except Conflict:  # it finished first
            pass
        done = client.wait(task_id, timeout=120)
        assert done.state in ("cancelled", "completed")
        if done.state == "cancelled":
            with pytest.raises(TaskFailed):
                client.wait(task_id, check=True)


def test_async_client(url: str, bell: str) -> None:
    async def main() -> Task:
        async with AsyncClient(url) as client:
            ids = await asyncio.gather(*(client.submit(bell, shots=20) for _ in range(3)))
            done = await asyncio.gather(*(client.wait(i, timeout=120) for i in ids))
            return done[0]

    assert asyncio.run(main()).state == "completed"


def test_outputs_method_and_noise_go_through(url: str, bell: str) -> None:
    with Client(url) as client:
        task = client.run(bell, shots=200, outputs=["counts", "probabilities"], method="stabilizer")
        assert task.method == "stabilizer" and sum(task.result.values()) == 200
        assert task.probabilities.keys() == {"00", "11"}
        assert abs(task.probabilities["00"] - 0.5) < 1e-9
        noisy = client.run(bell, shots=200, noise={"readout": 0.5})
        assert noisy.noise == {"readout": 0.5} and len(noisy.result) == 4
