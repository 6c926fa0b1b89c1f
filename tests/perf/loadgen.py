"""Load against the running API over HTTP: submit, then GET until the result is visible.

By default every GET is a long-poll (``?wait=``): the API answers as soon as the task is
terminal (it is woken through Redis), so the latency is the service's and the clients do not
steal CPU from it. With ``poll_ms > 0`` the clients poll instead, a GET every ``poll_ms``,
as a client unaware of the long-poll would.

Longer than 300 lines: the four load shapes (light, burst, batch, closed loop) share one
client, one recorder and one summary, and read best together.

The client is aiohttp rather than httpx: on this kind of machine httpx spends about 1.1 ms of
CPU per request, more than the API itself spends answering a GET (about 0.4 ms), so it would
steal a large share of the two cores from the service it measures; aiohttp spends about 0.1 ms.

Three phases per workload:

- ``light``: one task at a time, GET until it is terminal: latency without queueing, and
  where it goes (the timestamps the service writes into the task's document);
- ``burst``: ``tasks`` submissions from ``concurrency`` concurrent clients as fast as the API
  accepts them (the ingest rate), while one watcher GETs the oldest unfinished task until
  every task is visible (the saturated end-to-end throughput; one GET in flight keeps the
  cost of reading out of the figure);
- ``closed``: ``inflight`` clients that each submit, GET their task until it is terminal and
  submit the next one: latency at saturation.
"""

from __future__ import annotations

import asyncio
import collections
import time
from dataclasses import dataclass, field
from datetime import datetime

import aiohttp
import numpy as np
import orjson

TERMINAL = {"completed", "failed"}
#: Longest wait of one long-poll GET (the API's own limit is 30 s by default).
LONG_POLL_S = 10.0
JSON = {"Content-Type": "application/json"}


class PhaseTimeout(Exception):
    pass


@dataclass
class Task:
    seed: int
    t0: float = 0.0  # perf_counter at request start
    wall0: float = 0.0  # time.time() at request start (to compare with the service's stamps)
    t202: float = 0.0
    t_visible: float = 0.0
    task_id: str = ""
    status: int = 0
    state: str = ""
    doc: dict = field(default_factory=dict)
    gets: int = 0

    @property
    def accepted(self) -> bool:
        return self.status == 202

    @property
    def submit_ms(self) -> float:
        return (self.t202 - self.t0) * 1000

    @property
    def latency_ms(self) -> float:
        return (self.t_visible - self.t0) * 1000


def percentiles(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    data = np.asarray(values, dtype=float)
    p50, p95, p99 = np.percentile(data, [50, 95, 99])
    return {
        "n": len(values),
        "mean": round(float(data.mean()), 3),
        "p50": round(float(p50), 3),
        "p95": round(float(p95), 3),
        "p99": round(float(p99), 3),
        "max": round(float(data.max()), 3),
    }


def _stamp(doc: dict, name: str) -> float | None:
    value = doc.get(name)
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except (TypeError, ValueError):
        return None


def stages(tasks: list[Task]) -> dict:
    """Median milliseconds of each stage of a task, from the client's clock and the stamps
    the service writes (one machine, one clock):

    - ``http_and_parse``: request start to ``submitted_at`` (HTTP, validation, QASM parse);
    - ``ack_and_view``: ``submitted_at`` to the 202 (broker acknowledgement, view write);
    - ``to_processor``: ``submitted_at`` to ``started_at`` (log to processor, Faust);
    - ``execute``: ``started_at`` to ``finished_at`` (worker pool round trip, parse, simulate);
    - ``to_visible``: ``finished_at`` to the GET that saw it (publish, materializer, Redis,
      and, when polling, up to one polling interval).
    """
    columns: dict[str, list[float]] = collections.defaultdict(list)
    for task in tasks:
        submitted = _stamp(task.doc, "submitted_at")
        started = _stamp(task.doc, "started_at")
        finished = _stamp(task.doc, "finished_at")
        if None in (submitted, started, finished):
            continue
        visible_wall = task.wall0 + (task.t_visible - task.t0)
        accepted_wall = task.wall0 + (task.t202 - task.t0)
        columns["http_and_parse"].append((submitted - task.wall0) * 1000)
        columns["ack_and_view"].append((accepted_wall - submitted) * 1000)
        columns["to_processor"].append((started - submitted) * 1000)
        columns["execute"].append((finished - started) * 1000)
        columns["to_visible"].append((visible_wall - finished) * 1000)
        if isinstance(task.doc.get("duration_ms"), int | float):
            columns["duration_ms_reported"].append(float(task.doc["duration_ms"]))
    return {name: round(float(np.median(values)), 3) for name, values in columns.items()}


class Client:
    """``poll_ms`` 0: long-poll GETs; otherwise a GET every ``poll_ms``."""

    def __init__(self, base_url: str, connections: int, shots: int, poll_ms: float) -> None:
        self.base_url = base_url
        self.connections = connections
        self.shots = shots
        self.poll_s = poll_ms / 1000
        self.params = {} if poll_ms else {"wait": str(LONG_POLL_S)}
        self.session: aiohttp.ClientSession | None = None
        self.errors: collections.Counter[str] = collections.Counter()

    async def __aenter__(self) -> Client:
        connector = aiohttp.TCPConnector(limit=self.connections)
        self.session = aiohttp.ClientSession(
            self.base_url, connector=connector, timeout=aiohttp.ClientTimeout(total=60)
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.session is not None
        await self.session.close()

    async def submit(self, task: Task, qasm: str) -> Task:
        assert self.session is not None
        body = orjson.dumps({"qc": qasm, "shots": self.shots, "seed": task.seed})
        task.t0, task.wall0 = time.perf_counter(), time.time()
        try:
            async with self.session.post("/tasks", data=body, headers=JSON) as response:
                payload = await response.read()
                task.status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.errors[f"submit: {type(exc).__name__}"] += 1
            task.t202 = time.perf_counter()
            return task
        task.t202 = time.perf_counter()
        if task.status == 202:
            task.task_id = orjson.loads(payload)["task_id"]
        else:
            self.errors[f"submit: HTTP {task.status}"] += 1
        return task

    async def check(self, task: Task) -> bool:
        """One GET; True once the task is terminal (and then its time is recorded)."""
        assert self.session is not None
        task.gets += 1
        try:
            async with self.session.get(f"/tasks/{task.task_id}", params=self.params) as response:
                payload = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.errors[f"get: {type(exc).__name__}"] += 1
            return False
        now = time.perf_counter()
        if status != 200:
            self.errors[f"get: HTTP {status}"] += 1
            return False
        doc = orjson.loads(payload)
        if doc.get("state") in TERMINAL:
            task.t_visible, task.state, task.doc = now, doc["state"], doc
            return True
        return False

    async def wait_visible(self, task: Task, deadline: float) -> None:
        while not await self.check(task):
            if time.perf_counter() > deadline:
                raise PhaseTimeout(f"task {task.task_id} not finished in time")
            await asyncio.sleep(self.poll_s)


def _summary(tasks: list[Task], errors: collections.Counter[str]) -> dict:
    done = [t for t in tasks if t.t_visible]
    return {
        "submitted": len(tasks),
        "accepted": sum(t.accepted for t in tasks),
        "completed": sum(t.state == "completed" for t in done),
        "failed": sum(t.state == "failed" for t in done),
        "errors": dict(errors),
        "gets_per_task": round(sum(t.gets for t in tasks) / max(1, len(tasks)), 2),
    }


async def light(
    url: str, qasm: str, tasks: int, shots: int, poll_ms: float, warmup: int, timeout_s: float
) -> tuple[dict, list[Task]]:
    deadline = time.perf_counter() + timeout_s
    async with Client(url, 1, shots, poll_ms) as client:
        for seed in range(warmup):
            task = await client.submit(Task(seed=10**6 + seed), qasm)
            if task.accepted:
                await client.wait_visible(task, deadline)
        client.errors.clear()
        done: list[Task] = []
        for seed in range(tasks):
            task = await client.submit(Task(seed=seed), qasm)
            if task.accepted:
                await client.wait_visible(task, deadline)
            done.append(task)
        ok = [t for t in done if t.t_visible]
        return {
            **_summary(done, client.errors),
            "poll_ms": poll_ms,
            "latency_ms": percentiles([t.latency_ms for t in ok]),
            "submit_ms": percentiles([t.submit_ms for t in done if t.accepted]),
            "stages_median_ms": stages(ok),
        }, done


async def burst(
    url: str, qasm: str, tasks: int, shots: int, concurrency: int, poll_ms: float, timeout_s: float
) -> tuple[dict, list[Task]]:
    deadline = time.perf_counter() + timeout_s
    queue: collections.deque[Task] = collections.deque()  # accepted, not yet seen finished
    all_tasks = [Task(seed=seed) for seed in range(tasks)]
    submitting = True
    # One connection more than the submitters, for the watcher.
    async with Client(url, concurrency + 1, shots, poll_ms) as client:
        seeds = iter(all_tasks)

        async def submitter() -> None:
            for task in seeds:
                await client.submit(task, qasm)
                if task.accepted:
                    queue.append(task)

        async def watcher() -> None:
            while submitting or queue:
                if not queue:
                    await asyncio.sleep(0.001)  # nothing accepted yet
                elif await client.check(queue[0]):
                    queue.popleft()
                elif time.perf_counter() > deadline:
                    raise PhaseTimeout(f"{len(queue)} burst tasks not finished in time")
                else:
                    await asyncio.sleep(client.poll_s)

        start = time.perf_counter()
        watching = asyncio.create_task(watcher())
        await asyncio.gather(*(submitter() for _ in range(concurrency)))
        submitting = False
        await watching
    accepted = [t for t in all_tasks if t.accepted]
    last_202 = max((t.t202 for t in accepted), default=start)
    last_visible = max((t.t_visible for t in accepted), default=start)
    ingest_s, total_s = last_202 - start, last_visible - start
    return {
        **_summary(all_tasks, client.errors),
        "concurrency": concurrency,
        "ingest_s": round(ingest_s, 3),
        "ingest_per_s": round(len(accepted) / ingest_s, 2) if ingest_s > 0 else None,
        "end_to_end_s": round(total_s, 3),
        "throughput_per_s": round(len(accepted) / total_s, 2) if total_s > 0 else None,
        "submit_ms": percentiles([t.submit_ms for t in accepted]),
        # Queueing behind the burst, so it grows with its size: for information only.
        "latency_ms": percentiles([t.latency_ms for t in accepted if t.t_visible]),
    }, all_tasks


async def batched(
    url: str, qasm: str, tasks: int, shots: int, size: int, concurrency: int, timeout_s: float
) -> tuple[dict, list[Task]]:
    """Ingest through ``POST /tasks/batch`` (``size`` tasks a request, ``concurrency`` requests
    at once), then wait until every accepted task is visible."""
    deadline = time.perf_counter() + timeout_s
    all_tasks = [Task(seed=seed) for seed in range(tasks)]
    chunks = iter([all_tasks[i : i + size] for i in range(0, tasks, size)])
    async with Client(url, concurrency, shots, 0) as client:
        assert client.session is not None
        session = client.session

        async def submitter() -> None:
            for chunk in chunks:
                body = [{"qc": qasm, "shots": shots, "seed": task.seed} for task in chunk]
                t0, wall0 = time.perf_counter(), time.time()
                async with session.post("/tasks/batch", json={"tasks": body}) as response:
                    answer = orjson.loads(await response.read())
                    status = response.status
                t202 = time.perf_counter()
                if status != 202:
                    client.errors[f"batch: HTTP {status}"] += 1
                for task, item in zip(chunk, answer.get("tasks", []), strict=False):
                    task.t0, task.wall0, task.t202 = t0, wall0, t202
                    task.status = 202 if "task_id" in item else status
                    task.task_id = item.get("task_id", "")

        async def watcher() -> None:
            for task in accepted:
                await client.wait_visible(task, deadline)

        start = time.perf_counter()
        await asyncio.gather(*(submitter() for _ in range(concurrency)))
        accepted = [t for t in all_tasks if t.accepted]
        ingested = time.perf_counter()
        await watcher()
    ingest_s = ingested - start
    total_s = max((t.t_visible for t in accepted), default=start) - start
    return {
        **_summary(all_tasks, client.errors),
        "batch_size": size,
        "concurrency": concurrency,
        "ingest_per_s": round(len(accepted) / ingest_s, 2) if ingest_s > 0 else None,
        "throughput_per_s": round(len(accepted) / total_s, 2) if total_s > 0 else None,
    }, all_tasks


async def closed(
    url: str, qasm: str, tasks: int, shots: int, inflight: int, poll_ms: float, timeout_s: float
) -> tuple[dict, list[Task]]:
    deadline = time.perf_counter() + timeout_s
    all_tasks = [Task(seed=seed) for seed in range(tasks)]
    async with Client(url, inflight, shots, poll_ms) as client:
        pending = iter(all_tasks)

        async def loop() -> None:
            for task in pending:
                await client.submit(task, qasm)
                if task.accepted:
                    await client.wait_visible(task, deadline)

        start = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(inflight)))
    done = sorted((t for t in all_tasks if t.t_visible), key=lambda t: t.t_visible)
    # Steady state: leave out the first and the last `inflight` completions (ramp up, drain).
    steady = done[inflight:-inflight] if len(done) > 3 * inflight else done
    if len(steady) > 1:
        window = steady[-1].t_visible - steady[0].t_visible
        throughput = (len(steady) - 1) / window if window > 0 else None
    else:
        throughput = len(done) / (done[-1].t_visible - start) if done else None
    # Latency: all but the first `inflight` submissions (sent at once into an idle service).
    by_start = sorted(done, key=lambda t: t.t0)
    measured = by_start[inflight:] if len(by_start) > 2 * inflight else by_start
    return {
        **_summary(all_tasks, client.errors),
        "inflight": inflight,
        "poll_ms": poll_ms,
        "throughput_per_s": round(throughput, 2) if throughput else None,
        "latency_ms": percentiles([t.latency_ms for t in measured]),
        "submit_ms": percentiles([t.submit_ms for t in measured]),
        "stages_median_ms": stages(measured),
    }, all_tasks


def run(coroutine):
    return asyncio.run(coroutine)
