"""``make up`` (deploy/stack.py) supervises what it started, as a container orchestrator
would: every child killed with SIGKILL (broker, Redis, API, processor, materializer) is
restarted and the restart is logged; the service then works end to end; SIGTERM stops it all.
Runs a whole stack of its own on free ports."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import psutil

from deploy.processes import free_port
from tests.helpers import BELL, wait_for

REPO = Path(__file__).resolve().parents[2]
ROLES = {
    "kafka": lambda cmd: "kafka.Kafka" in cmd,
    "redis": lambda cmd: "redis-server" in cmd,
    "api": lambda cmd: cmd.endswith("-m api"),
    "processor": lambda cmd: cmd.endswith("-m processor"),
    "materializer": lambda cmd: cmd.endswith("-m materializer"),
}


def children(stack: subprocess.Popen[bytes]) -> dict[str, int]:
    """The pid of each role among the supervisor's children."""
    found = {}
    for child in psutil.Process(stack.pid).children():
        try:
            command = " ".join(child.cmdline())
        except psutil.NoSuchProcess:
            continue
        for role, matches in ROLES.items():
            if matches(command):
                found[role] = child.pid
    return found


def ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def test_make_up_restarts_every_component_that_dies(tmp_path: Path) -> None:
    ports = {name: free_port() for name in ("KAFKA", "KAFKA_CONTROLLER", "REDIS", "API")}
    env = os.environ | {f"{name}_PORT": str(port) for name, port in ports.items()}
    env |= {"STACK_DIR": str(tmp_path / "stack"), "PROCESSOR_WORKERS": "1", "COLUMNS": "200"}
    url = f"http://127.0.0.1:{ports['API']}"
    log = tmp_path / "stack.log"
    with open(log, "wb") as output:
        stack = subprocess.Popen(
            [sys.executable, "-m", "deploy.stack"], cwd=REPO, env=env, stdout=output,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        wait_for(lambda: ready(url), 240, "the stack to come up", every=1)
        before = wait_for(lambda: len(found := children(stack)) == len(ROLES) and found, 30, "all")
        for pid in before.values():
            os.kill(pid, signal.SIGKILL)
        after = wait_for(
            lambda: (
                len(found := children(stack)) == len(ROLES)
                and all(found[role] != before[role] for role in ROLES)
                and found
            ),
            180,
            "every component restarted",
            every=1,
        )
        for role in ROLES:
            assert f"restarting {role}" in log.read_text(), role
        wait_for(lambda: ready(url), 180, "the stack ready again", every=1)

        def completes() -> bool:
            try:
                answer = httpx.post(f"{url}/tasks", json={"qc": BELL, "shots": 10}, timeout=10)
                if answer.status_code != 202:
                    return False
                task = answer.json()["task_id"]
                done = httpx.get(f"{url}/tasks/{task}", params={"wait": 30}, timeout=40).json()
                return done["status"] == "completed"
            except httpx.TransportError:
                return False

        wait_for(completes, 180, "a task end to end after the restarts", every=1)
        print(f"\nmake up: {len(after)} components killed and restarted; a task completed")
    finally:
        os.killpg(stack.pid, signal.SIGTERM)
        code = stack.wait(timeout=120)
    assert code == 0, log.read_text()[-3000:]
    assert not [
        p
        for p in psutil.process_iter(["cmdline"])
        if str(tmp_path) in " ".join(p.info["cmdline"] or [])
    ]
