"""The service's own processes (API, processors, materializer) around the session's broker
and Redis, each stack on topics, groups and Redis keys of its own. Tests get one through the
``stack`` and ``make_stack`` fixtures (conftest.py)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from redis import Redis
from typer.testing import CliRunner

from deploy.processes import ManagedProcess, free_port
from ops.cli import app
from runtime.kafka_client import client_options
from runtime.redis_client import redis_options
from runtime.settings import Settings
from runtime.topics import create_topics
from schemas.events import TaskCancelRequested, TaskSubmitted, utcnow
from tests.helpers import TERMINAL, medium_program, read_topic, wait_for
from tests.services import Services

# The helpers test modules used to import from here, still importable from here.
__all__ = ["TERMINAL", "MakeStack", "Stack", "medium_program", "read_topic", "wait_for"]


async def _group_members(bootstrap: str, group: str, options: Mapping[str, Any]) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **options)
    await admin.start()
    try:
        (description,) = await admin.describe_consumer_groups([group])
        if description.groups[0][2] != "Stable":
            return 0
        return len(description.groups[0][5])
    finally:
        await admin.close()


class Stack:
    """API, processors and materializer as real processes. ``env`` overrides settings."""

    def __init__(self, services: Services, work_dir: Path, **env: str) -> None:
        self.services = services
        self.work_dir = work_dir
        self.prefix = f"t{uuid.uuid4().hex[:8]}."
        self.api_port = free_port()
        self.env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": services.kafka_bootstrap,
            "REDIS_HOST": services.redis_host,
            "REDIS_PORT": str(services.redis_port),
            "REDIS_PREFIX": self.prefix,
            "QC_TOPIC_PREFIX": self.prefix,
            "QC_TOPIC_PARTITIONS": "3",
            "PROCESSOR_ID": f"{self.prefix}processor",
            "MATERIALIZER_GROUP": f"{self.prefix}materializer",
            "PROCESSOR_DATA_DIR": str(work_dir / f"{self.prefix}processor-data"),
            "API_PORT": str(self.api_port),
            "PROCESSOR_WORKERS": "2",
            **env,
        }
        # The settings the stack's processes read (credentials, TLS), for its own clients.
        self.settings = Settings.model_validate({k.lower(): v for k, v in self.env.items()})
        self.kafka_options = client_options(self.settings)
        self.url = f"http://127.0.0.1:{self.api_port}"
        self.api = self._process("api", "api")
        self.materializer = self._process("materializer", "materializer")
        self.processors: list[ManagedProcess] = []
        self.client = httpx.Client(base_url=self.url, timeout=30)

    def _process(self, name: str, module: str) -> ManagedProcess:
        log = self.work_dir / f"{self.prefix}{name}.{time.monotonic_ns()}.log"
        return ManagedProcess(name, [sys.executable, "-m", module], env=self.env, log_path=log)

    @property
    def topics(self):
        return Settings(qc_topic_prefix=self.prefix).topics

    def start(self, processors: int = 1) -> Stack:
        record_bytes = int(self.env.get("QC_MAX_RECORD_BYTES", 1_048_576))
        bootstrap, options = self.services.kafka_bootstrap, self.kafka_options
        partitions = int(self.env["QC_TOPIC_PARTITIONS"])
        replication = int(self.env.get("QC_TOPIC_REPLICATION", 1))  # 3 on a cluster
        asyncio.run(
            create_topics(
                bootstrap, self.topics, partitions, replication, record_bytes, options=options
            )
        )
        self.api.start()
        self.materializer.start()
        for _ in range(processors):
            self.add_processor(wait=False)
        self.wait_api()
        self.wait_group(self.env["MATERIALIZER_GROUP"], 1)
        self.wait_group(self.env["PROCESSOR_ID"], processors)
        return self

    def add_processor(self, wait: bool = True) -> ManagedProcess:
        processor = self._process(f"processor{len(self.processors)}", "processor")
        processor.start()
        self.processors.append(processor)
        if wait:
            self.wait_group(self.env["PROCESSOR_ID"], self.running_processors())
        return processor

    def running_processors(self) -> int:
        return sum(p.running for p in self.processors)

    def wait_api(self, timeout: float = 60) -> None:
        def answers() -> bool:
            try:
                # 404 on an open API, 401 with API keys on: either way it answers.
                return self.client.get("/tasks/probe").status_code in (401, 404)
            except httpx.TransportError:
                return False

        wait_for(answers, timeout, "the API")

    def wait_group(self, group: str, members: int, timeout: float = 120) -> None:
        bootstrap = self.services.kafka_bootstrap
        wait_for(
            lambda: asyncio.run(_group_members(bootstrap, group, self.kafka_options)) == members,
            timeout,
            f"{members} stable member(s) in group {group}",
            every=0.5,
        )

    def submit(self, qc: str, **fields: object) -> str:
        response = self.client.post("/tasks", json={"qc": qc, **fields})
        assert response.status_code == 202, response.text
        return response.json()["task_id"]

    def inject(self, qasm: str, shots: int = 10, **fields: object) -> str:
        """Put a submission straight on the log, past the API's checks (a replay, another
        tool); returns its task id once the view has it."""
        task = TaskSubmitted(
            task_id=str(uuid.uuid4()),
            qasm=qasm,
            shots=shots,
            seed=1,
            submitted_at=utcnow(),
            **fields,
        )
        self.append(task)
        self.wait_visible(task.task_id)
        return task.task_id

    def append(self, *events: TaskSubmitted | TaskCancelRequested) -> None:
        """Append records straight to this stack's topics (submissions, cancellations), as
        another tool, a replay or a late record of the API's producer would."""

        async def produce() -> None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self.services.kafka_bootstrap, **self.kafka_options
            )
            await producer.start()
            try:
                for event in events:
                    topic = (
                        self.topics.submitted
                        if isinstance(event, TaskSubmitted)
                        else self.topics.cancellations
                    )
                    await producer.send_and_wait(topic, event.encode(), key=event.task_id.encode())
            finally:
                await producer.stop()

        asyncio.run(produce())

    def drop_view(self) -> int:
        """Delete every key of this stack's view, as a flushed or replaced Redis would; returns
        how many there were."""
        redis = Redis.from_url(self.settings.redis_url, **redis_options(self.settings))
        try:
            keys = list(redis.scan_iter(match=f"{self.prefix}*", count=1000))
            return redis.delete(*keys) if keys else 0
        finally:
            redis.close()

    def wait_visible(self, task_id: str, timeout: float = 60) -> None:
        """Until the view has a task that reached the log without the API (a 404 until the
        materializer has read its record)."""
        wait_for(
            lambda: self.client.get(f"/tasks/{task_id}").status_code == 200,
            timeout,
            f"the materializer to see task {task_id}",
        )

    def status(self, task_id: str) -> dict:
        response = self.client.get(f"/tasks/{task_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def wait_terminal(self, task_id: str, timeout: float = 120) -> dict:
        return wait_for(
            lambda: (s := self.status(task_id))["state"] in TERMINAL and s,
            timeout,
            f"task {task_id} to finish",
        )

    def stop(self) -> None:
        self.client.close()
        for process in [self.api, self.materializer, *self.processors]:
            process.stop(timeout=20)


#: The ``make_stack`` fixture (conftest.py): ``make_stack(processors=1, services=None, **env)``
#: starts a stack, stopped at the end of the module.
MakeStack = Callable[..., Stack]


def cli(stack: Stack, *args: str, exit_code: int = 0) -> str:
    """The operator's CLI (``qcexec``) run against ``stack``; its output."""
    env = {
        name: stack.env[name] for name in ("KAFKA_BOOTSTRAP_SERVERS", "REDIS_HOST", "REDIS_PORT")
    }
    env |= {"REDIS_PREFIX": stack.prefix, "QC_TOPIC_PREFIX": stack.prefix, "QCEXEC_URL": stack.url}
    outcome = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    assert outcome.exit_code == exit_code, outcome.output
    return outcome.output
