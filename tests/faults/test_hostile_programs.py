"""No program can hurt the service (docs/architecture.md, guarantee 4): bombs are refused at
submit, before anything expands them, and large programs are read in worker processes while the
API keeps answering everyone else."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import psutil
import pytest

from tests.helpers import BELL, wait_for
from tests.hostile import big_program, gate_bomb, loop_bomb
from tests.stack import MakeStack, Stack


@pytest.fixture(scope="module")
def stack(make_stack: MakeStack) -> Stack:
    """Reading time is not what these tests are about: a generous limit, so that a loaded
    machine does not refuse the large programs."""
    return make_stack(QC_PARSE_TIME_LIMIT_MS="120000")


#: What the API process itself (not its reader processes) may hold while it is flooded with
#: large programs: its own start-up size plus the request bodies in flight.
API_RSS_BOUND_MB = 600


def readers_cpu(api: psutil.Process) -> float:
    """CPU seconds the API's child processes (its program readers) have used."""
    total = 0.0
    for child in api.children(recursive=True):
        try:
            times = child.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


@pytest.mark.parametrize(
    ("program", "words"),
    [
        (gate_bomb(30), "operations"),
        (gate_bomb(30, version=2), "operations"),
        (loop_bomb(10**9), "operations"),
        ('OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[100000000] q;\n', "qubits"),
        ('OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[100000000];\n', "qubits"),
    ],
    ids=["gate-bomb-30", "qasm2-gate-bomb-30", "loop-1e9", "qubits-1e8", "qasm2-qubits-1e8"],
)
def test_bombs_are_refused_at_submit(stack: Stack, program: str, words: str) -> None:
    response = stack.client.post("/tasks", json={"qc": program})
    assert response.status_code == 422, response.text
    (detail,) = response.json()["detail"]
    assert detail["type"] == "limit_exceeded"
    assert words in detail["msg"]
    assert stack.client.get("/healthz").status_code == 200


def test_others_are_answered_while_large_programs_are_read(stack: Stack) -> None:
    known = stack.submit(BELL, shots=10)
    program = big_program()
    finished: list[tuple[str, float]] = []
    lock = threading.Lock()
    api = psutil.Process(stack.api.pid)
    peak_rss = [api.memory_info().rss]
    idle = readers_cpu(api)

    def big() -> int:
        unique = f"{program}// {uuid.uuid4()}\n"  # each one read: none is a program seen before
        with httpx.Client(base_url=stack.url, timeout=120) as client:
            status = client.post("/tasks", json={"qc": unique}).status_code
        with lock:
            finished.append(("big", time.monotonic()))
        return status

    with ThreadPoolExecutor(4) as pool:
        bigs = [pool.submit(big) for _ in range(4)]
        # Once the readers are busy with the big programs, ask small questions.
        wait_for(lambda: readers_cpu(api) > idle + 0.3, 60, "the readers to read")
        small_answers = []
        for _ in range(5):
            health = stack.client.get("/healthz")
            task = stack.client.get(f"/tasks/{known}")
            small_answers += [health.status_code, task.status_code]
            with lock:
                finished.append(("small", time.monotonic()))
            peak_rss.append(api.memory_info().rss)
        statuses = [future.result() for future in bigs]
    assert statuses == [202] * 4
    assert set(small_answers) == {200}
    first_big = min(at for kind, at in finished if kind == "big")
    last_small = max(at for kind, at in finished if kind == "small")
    assert last_small < first_big, finished  # every small answer came before any big one
    assert max(peak_rss) < API_RSS_BOUND_MB * 1024 * 1024
