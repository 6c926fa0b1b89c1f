"""The whole pipeline through HTTP: API -> qc.submitted -> processor -> qc.results ->
materializer -> Redis -> API, on the real broker and Redis."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.helpers import read_topic
from tests.stack import Stack

GHZ = """OPENQASM 3.0;
include "stdgates.inc";
qubit[5] q;
bit[5] c;
h q[0];
cx q[0], q[1];
cx q[1], q[2];
cx q[2], q[3];
cx q[3], q[4];
c = measure q;
"""


def test_bell_completes_with_correlated_counts(stack: Stack, bell: str) -> None:
    task_id = stack.submit(bell, shots=1000)
    done = stack.wait_terminal(task_id)
    assert done["status"] == "completed"
    assert set(done["result"]) <= {"00", "11"}
    assert sum(done["result"].values()) == 1000
    assert done["task_id"] == task_id and done["shots"] == 1000


def test_default_shots_and_location_header(stack: Stack, bell: str) -> None:
    response = stack.client.post("/tasks", json={"qc": bell})
    assert response.status_code == 202
    body = response.json()
    assert body["message"] == "Task submitted successfully."
    assert response.headers["location"] == f"/tasks/{body['task_id']}"
    done = stack.wait_terminal(body["task_id"])
    assert sum(done["result"].values()) == 1024


def test_same_seed_same_counts(stack: Stack) -> None:
    uneven = 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[3] q;\nbit[3] c;\n'
    uneven += "rx(0.7) q[0];\nry(1.9) q[1];\nh q[2];\ncx q[2], q[0];\nc = measure q;\n"
    first, second, other = (stack.submit(uneven, shots=500, seed=s) for s in (11, 11, 12))
    counts = [stack.wait_terminal(t)["result"] for t in (first, second, other)]
    assert counts[0] == counts[1]
    assert counts[0] != counts[2]


def test_ghz(stack: Stack) -> None:
    done = stack.wait_terminal(stack.submit(GHZ, shots=400, seed=3))
    assert set(done["result"]) == {"00000", "11111"}
    assert sum(done["result"].values()) == 400


def test_invalid_program_gets_400_with_position(stack: Stack) -> None:
    program = 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit q;\nfoo q;\n'
    response = stack.client.post("/tasks", json={"qc": program})
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == "QASM3 code is not valid"
    assert body["errors"][0]["line"] == 4
    assert "'foo' is not defined" in body["errors"][0]["message"]


def test_unknown_task_is_404_with_the_exact_body(stack: Stack) -> None:
    response = stack.client.get("/tasks/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404
    assert response.json() == {"status": "error", "message": "Task not found."}


def test_program_that_fails_at_run_time_ends_failed(stack: Stack) -> None:
    no_measure = 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nh q[0];\n'
    done = stack.wait_terminal(stack.submit(no_measure))
    assert done["status"] == "error"
    assert done["state"] == "failed"
    assert done["message"].startswith("Task failed: ")
    assert "measures nothing" in done["message"]
    assert done["error"]["code"] == "invalid_program"


def test_get_right_after_202_is_never_not_found(stack: Stack, bell: str) -> None:
    for _ in range(20):
        task_id = stack.submit(bell, shots=10)
        assert stack.client.get(f"/tasks/{task_id}").status_code == 200


def test_fifty_concurrent_submissions_all_complete(stack: Stack, bell: str) -> None:
    def submit(i: int) -> str:
        with httpx.Client(base_url=stack.url, timeout=30) as client:
            response = client.post("/tasks", json={"qc": bell, "shots": 100, "seed": i})
            assert response.status_code == 202, response.text
            return response.json()["task_id"]

    with ThreadPoolExecutor(max_workers=10) as pool:
        task_ids = list(pool.map(submit, range(50)))
    assert len(set(task_ids)) == 50
    results = [stack.wait_terminal(task_id) for task_id in task_ids]
    assert all(r["status"] == "completed" for r in results)
    assert all(sum(r["result"].values()) == 100 for r in results)


def test_a_clients_traceparent_travels_with_the_task_without_tracing(
    stack: Stack, bell: str
) -> None:
    """No tracer provider here (nothing exports spans): the client's trace still reaches the
    task's records, so that a trace the client started can follow the task."""
    trace_id, parent = secrets.token_hex(16), secrets.token_hex(8)
    response = stack.client.post(
        "/tasks",
        json={"qc": bell, "seed": 3},
        headers={"traceparent": f"00-{trace_id}-{parent}-01"},
    )
    assert response.status_code == 202
    task_id = response.json()["task_id"]
    assert stack.wait_terminal(task_id)["status"] == "completed"
    bootstrap = stack.services.kafka_bootstrap
    for topic in (stack.topics.submitted, stack.topics.results):
        (record,) = [r for r in read_topic(bootstrap, topic) if r.key == task_id.encode()]
        assert dict(record.headers)["traceparent"].decode().split("-")[1] == trace_id, topic
