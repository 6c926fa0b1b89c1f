"""The bench's fairness phase: does one owner's load make another owner wait?

Why it exists: a processor that takes tasks in the order the log holds them puts every other
owner behind one owner's flood of thousands of tasks, and a few heavy tasks hold every worker
for seconds. A scheduler that shares the workers between owners should keep the other owner's
small tasks quick without costing the flooding owner throughput; this phase gives the figures
to judge one by, before and after, as latencies and ratios within one run (the machines are
noisy). On a stack of its own with two API keys (owners A and B) and rate limits out of the
way; the processor keeps its defaults (its workers: the bench's ``--workers``).

0. ``b_alone``: after a warm-up, B's latency on the idle stack, a Bell task every 0.3 s
   (``POST /tasks``, then long-poll GETs until terminal; its POST to the GET that saw it end).
1. ``a_alone``: A floods ``flood`` Bell tasks through ``POST /tasks/batch`` (100 a request, 4
   requests at once): A's throughput, first request to last task seen terminal.
2. ``a_with_b``: the same flood while B submits a Bell task every 0.3 s until A's backlog has
   drained: B's latency and count, A's throughput and its ratio to A alone.
3. ``heavy``: A submits more heavy tasks than there are workers (a random circuit whose depth
   makes one run about 4 s here, as a worker runs it), then B a Bell task every 0.3 s for 20 s.

The targets (:func:`targets`) are reported, never asserted. Longer than 300 lines: the two
owners' client, the three shapes of load and the report of their figures read best together.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import aiohttp
import orjson

from tests.helpers import BELL, TERMINAL
from tests.perf.loadgen import JSON, LONG_POLL_S, PhaseTimeout, percentiles

KEY_A, KEY_B = "keyA", "keyB"
#: The stack's settings: two owners, rate limits out of the way; none of the processor's.
ENV = {"API_KEYS": f"{KEY_A},{KEY_B}", "API_RATE_LIMIT_PER_S": "1000000",
       "API_RATE_LIMIT_BURST": "1000000"}  # fmt: skip
BATCH_SIZE, BATCH_CLIENTS = 100, 4  # A's flood: tasks a request (API_MAX_BATCH), requests at once
B_EVERY_S, SHOTS = 0.3, 1024
B_MAX_MS, A_RATIO = 1000.0, 0.9  # the targets: B's slowest task; A with B over A alone


@dataclass(frozen=True)
class Sizes:
    flood: int = 3000  # A's Bell tasks, alone and with B
    warmup: int = 300  # A's Bell tasks before anything is measured
    b_alone: int = 10  # B's tasks on the idle stack
    heavy_qubits: int = 22
    heavy_s: float = 4.0  # one heavy task's time in this process, aimed at
    heavy_window_s: float = 20.0  # how long B submits during the heavy phase


SMOKE = Sizes(flood=30, warmup=10, b_alone=3, heavy_qubits=18, heavy_s=0.2, heavy_window_s=1.5)


def heavy_program(qubits: int, target_s: float, threads: int, seed: int = 1234) -> dict:
    """A random circuit of ``qubits`` whose depth makes one run, as a worker runs it
    (``processor.simulate.run_program`` with the worker's threads), take about ``target_s``."""
    from processor.simulate import run_program
    from runtime.settings import Settings
    from tests.perf.workloads import random_program

    settings = Settings()

    def timed(depth: int) -> tuple[str, float]:
        qasm = random_program(qubits, depth, seed)
        start = time.perf_counter()
        run_program(qasm, SHOTS, 1, settings.limits, settings.qc_task_max_memory_mb, threads)
        return qasm, time.perf_counter() - start

    depth = 8
    qasm, took = timed(depth)
    for _ in range(2):  # the time grows about linearly with the depth
        if abs(took / target_s - 1) < 0.25:
            break
        depth = max(1, min(400, round(depth * target_s / took)))
        qasm, took = timed(depth)
    return {"qasm": qasm, "qubits": qubits, "depth": depth, "in_process_s": round(took, 2)}


class Owner:
    """One API key's client: batches, single submissions, long-poll GETs until terminal."""

    session: aiohttp.ClientSession

    def __init__(self, url: str, key: str) -> None:
        self.url, self.key = url, key
        self.errors: collections.Counter[str] = collections.Counter()

    async def __aenter__(self) -> Owner:
        self.session = aiohttp.ClientSession(
            self.url,
            connector=aiohttp.TCPConnector(limit=0),  # B keeps a long-poll per task in flight
            headers={"Authorization": f"Bearer {self.key}", **JSON},
            timeout=aiohttp.ClientTimeout(total=LONG_POLL_S + 50),
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.session.close()

    async def _call(self, method: str, path: str, **kwargs) -> tuple[int, dict]:
        """Status and body; 0 and nothing on a transport error. Errors counted by kind."""
        route = f"{method} {path if method == 'POST' else '/tasks/{id}'}"
        try:
            async with self.session.request(method, path, **kwargs) as response:
                status, body = response.status, orjson.loads(await response.read())
        except (aiohttp.ClientError, TimeoutError, orjson.JSONDecodeError) as exc:
            self.errors[f"{route}: {type(exc).__name__}"] += 1
            return 0, {}
        if status not in (200, 202):
            self.errors[f"{route}: HTTP {status}"] += 1
        return status, body

    async def batch(self, qasm: str, seeds: Iterable[int]) -> list[str]:
        """``POST /tasks/batch`` (as many requests as it takes); the ids accepted."""
        seeds, ids = list(seeds), []
        for i in range(0, len(seeds), BATCH_SIZE):
            chunk = seeds[i : i + BATCH_SIZE]
            body = {"tasks": [{"qc": qasm, "shots": SHOTS, "seed": seed} for seed in chunk]}
            _, answer = await self._call("POST", "/tasks/batch", data=orjson.dumps(body))
            ids += [item["task_id"] for item in answer.get("tasks", []) if "task_id" in item]
        return ids

    async def submit(self, qasm: str, seed: int) -> str:
        body = orjson.dumps({"qc": qasm, "shots": SHOTS, "seed": seed})
        status, answer = await self._call("POST", "/tasks", data=body)
        return answer.get("task_id", "") if status == 202 else ""

    async def wait(self, task_id: str, deadline: float) -> str:
        """Long-poll GETs until the task is terminal; its state."""
        params = {"wait": str(LONG_POLL_S)}
        while True:
            status, doc = await self._call("GET", f"/tasks/{task_id}", params=params)
            if status == 200 and doc.get("state") in TERMINAL:
                return doc["state"]
            if status != 200:
                await asyncio.sleep(0.1)
            if time.perf_counter() > deadline:
                raise PhaseTimeout(f"task {task_id} not terminal in time")


async def flood(a: Owner, qasm: str, count: int, timeout_s: float, seed0: int = 0) -> dict:
    """A's tasks through ``POST /tasks/batch``, ``BATCH_CLIENTS`` requests at once, then each
    followed until terminal: the clock runs from the first request to the last task's end."""
    deadline = time.perf_counter() + timeout_s
    seeds = range(seed0, seed0 + count)
    chunks = iter([seeds[i : i + BATCH_SIZE] for i in range(0, count, BATCH_SIZE)])
    ids: list[str] = []

    async def submitter() -> None:
        for chunk in chunks:
            ids.extend(await a.batch(qasm, chunk))

    start = time.perf_counter()
    await asyncio.gather(*(submitter() for _ in range(BATCH_CLIENTS)))
    ingest_s = time.perf_counter() - start
    states: collections.Counter[str] = collections.Counter()
    for task_id in ids:  # one GET at a time: the cost of reading stays small and the same
        states[await a.wait(task_id, deadline)] += 1
    total_s = time.perf_counter() - start
    return {"tasks": count, "accepted": len(ids), "states": dict(states),
            "ingest_s": round(ingest_s, 2), "drain_s": round(total_s, 2),
            "throughput_per_s": round(len(ids) / total_s, 2)}  # fmt: skip


async def trickle(b: Owner, stop: asyncio.Event, timeout_s: float) -> dict:
    """B: a Bell task every ``B_EVERY_S`` until ``stop``, each followed until terminal on its
    own; the latency is from the POST to the GET that saw it terminal."""
    deadline = time.perf_counter() + timeout_s

    async def one(seed: int) -> tuple[str, float]:
        start = time.perf_counter()
        task_id = await b.submit(BELL, seed)
        state = await b.wait(task_id, deadline) if task_id else "refused"
        return state, (time.perf_counter() - start) * 1000

    began, running = time.perf_counter(), []
    while not stop.is_set():
        running.append(asyncio.create_task(one(len(running))))
        pause = began + len(running) * B_EVERY_S - time.perf_counter()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), max(0.0, pause))
    done = await asyncio.gather(*running)
    return {"count": len(done), "states": dict(collections.Counter(s for s, _ in done)),
            "latency_ms": percentiles([ms for state, ms in done if state in TERMINAL])}  # fmt: skip


def _after(seconds: float) -> asyncio.Event:
    event = asyncio.Event()
    asyncio.get_running_loop().call_later(seconds, event.set)
    return event


async def measure(
    url: str, sizes: Sizes, heavy: dict, heavy_tasks: int, timeout_s: float, say: Callable
) -> dict:
    out: dict = {}
    async with Owner(url, KEY_A) as a, Owner(url, KEY_B) as b:
        say(f"fairness: warm-up ({sizes.warmup} of A's tasks), then B alone")
        await flood(a, BELL, sizes.warmup, timeout_s, seed0=10**6)
        out["b_alone"] = await trickle(b, _after((sizes.b_alone - 0.5) * B_EVERY_S), timeout_s)

        say(f"fairness: A alone, {sizes.flood} Bell tasks through POST /tasks/batch")
        out["a_alone"] = await flood(a, BELL, sizes.flood, timeout_s)

        say(f"fairness: A's {sizes.flood} again, B a Bell task every {B_EVERY_S} s meanwhile")
        drained = asyncio.Event()

        async def a_then_stop() -> dict:
            try:
                return await flood(a, BELL, sizes.flood, timeout_s)
            finally:
                drained.set()

        with_b, b_with = await asyncio.gather(a_then_stop(), trickle(b, drained, timeout_s))
        ratio = with_b["throughput_per_s"] / out["a_alone"]["throughput_per_s"]
        out["a_with_b"] = {"a": with_b, "b": b_with, "a_vs_alone": round(ratio, 3)}

        say(f"fairness: {heavy_tasks} heavy tasks from A ({heavy['qubits']} qubits, depth "
            f"{heavy['depth']}, {heavy['in_process_s']} s in-process), B for "
            f"{sizes.heavy_window_s} s")  # fmt: skip
        deadline = time.perf_counter() + timeout_s
        start = time.perf_counter()
        ids = await a.batch(heavy["qasm"], range(heavy_tasks))
        b_heavy = await trickle(b, _after(sizes.heavy_window_s), timeout_s)
        states = collections.Counter([await a.wait(task_id, deadline) for task_id in ids])
        out["heavy"] = {
            **{k: v for k, v in heavy.items() if k != "qasm"},
            "a": {"tasks": heavy_tasks, "accepted": len(ids), "states": dict(states),
                  "drain_s": round(time.perf_counter() - start, 2)},
            "b": b_heavy,
        }  # fmt: skip
        out["errors"] = {"A": dict(a.errors), "B": dict(b.errors)}
    return out


def run(found, work: Path, env: dict[str, str], smoke: bool, timeout_s: float, watch, say) -> dict:
    """Start a stack with two owners (``env`` and :data:`ENV`), measure, stop it."""
    from tests.stack import Stack

    sizes = SMOKE if smoke else Sizes()
    stack = Stack(found, work, **env, **ENV)
    workers = int(stack.env["PROCESSOR_WORKERS"])
    threads = max(1, (os.cpu_count() or 1) // workers)  # as processor/pool.py gives a worker
    say(f"fairness: sizing a {sizes.heavy_qubits}-qubit circuit to ~{sizes.heavy_s} s in-process")
    heavy = heavy_program(sizes.heavy_qubits, sizes.heavy_s, threads)
    # Enough to keep every worker busy for B's whole window, and more tasks than workers.
    heavy_tasks = workers * math.ceil(sizes.heavy_window_s / heavy["in_process_s"]) + workers
    stack.client.headers["Authorization"] = f"Bearer {KEY_A}"  # for its readiness probe
    say(f"fairness: a stack with two API keys, {workers} processor workers")
    load = {"start": os.getloadavg()}  # what else runs on the machine meanwhile
    try:
        stack.start()
        for name, process in (("api", stack.api), ("materializer", stack.materializer),
                              ("processor0", stack.processors[0])):  # fmt: skip
            watch(f"fairness-{name}", process.pid)
        out = asyncio.run(measure(stack.url, sizes, heavy, heavy_tasks, timeout_s, say))
    finally:
        stack.stop()
    out["load_average"] = {**load, "end": os.getloadavg()}
    out["settings"] = {**asdict(sizes), "processor_workers": workers, "b_every_s": B_EVERY_S,
                       "batch_size": BATCH_SIZE, "batch_clients": BATCH_CLIENTS}  # fmt: skip
    return out


def targets(out: dict) -> list[dict]:
    """The issue's targets, in the shape of ``report.check_targets``'s."""
    b_with, b_heavy = out["a_with_b"]["b"]["latency_ms"], out["heavy"]["b"]["latency_ms"]
    found = [
        ("A + B: B's slowest task (ms)", b_with.get("max"), "<=", B_MAX_MS),
        ("A + B: A's throughput / A alone", out["a_with_b"]["a_vs_alone"], ">=", A_RATIO),
        ("heavy: B's slowest task (ms)", b_heavy.get("max"), "<=", B_MAX_MS),
    ]
    return [{"workload": "fairness", "what": what, "target": f"{op} {bound:g}", "value": value,
             "met": None if value is None else (value <= bound if op == "<=" else value >= bound)}
            for what, value, op, bound in found]  # fmt: skip


def rows(out: dict) -> list[tuple[str, str, str, str]]:
    """(figure, measured, target, PASS or MISS) for the printed table and the Markdown."""
    checked = {c["what"]: c for c in out["targets"]}
    alone, with_b, heavy = out["a_alone"], out["a_with_b"], out["heavy"]

    def ms(stats: dict, key: str = "p50") -> str:
        return f"{stats[key]:,.0f}" if stats.get("n") else "-"

    def row(what: str, value: str) -> tuple[str, str, str, str]:
        check = checked.get(what, {})
        met = {True: "PASS", False: "MISS"}.get(check.get("met"), "")
        return what, value, check.get("target", ""), met

    return [
        row("B alone: B's p50 / max (ms)",
            f"{ms(out['b_alone']['latency_ms'])} / {ms(out['b_alone']['latency_ms'], 'max')}"),
        row(f"A alone: {alone['accepted']:,} Bell tasks, A's throughput (tasks/s)",
            f"{alone['throughput_per_s']:,.1f}"),
        row("A + B: A's throughput (tasks/s)", f"{with_b['a']['throughput_per_s']:,.1f}"),
        row("A + B: A's throughput / A alone", f"{with_b['a_vs_alone']:.2f}"),
        row("A + B: B's tasks; B's p50 (ms)",
            f"{with_b['b']['count']}; {ms(with_b['b']['latency_ms'])}"),
        row("A + B: B's slowest task (ms)", ms(with_b["b"]["latency_ms"], "max")),
        row(f"heavy: {heavy['a']['tasks']} of A's tasks ({heavy['qubits']} qubits, depth "
            f"{heavy['depth']}; {out['settings']['processor_workers']} workers): one "
            "in-process (s)", f"{heavy['in_process_s']}"),
        row("heavy: B's tasks; B's p50 (ms)",
            f"{heavy['b']['count']}; {ms(heavy['b']['latency_ms'])}"),
        row("heavy: B's slowest task (ms)", ms(heavy["b"]["latency_ms"], "max")),
        row("the machine's load average (1 min), at start / end",
            " / ".join(f"{out['load_average'][k][0]:.1f}" for k in ("start", "end"))),
    ]  # fmt: skip


def print_table(out: dict, console) -> None:
    from rich.table import Table

    table = Table(title="Fairness: owner B's small tasks beside owner A's load (not asserted)")
    for column in ("figure", "measured", "target", "met"):
        table.add_column(column, justify="left" if column == "figure" else "right")
    for what, value, target, met in rows(out):
        color = {"PASS": "green", "MISS": "red"}.get(met, "default")
        table.add_row(what, value, target, f"[{color}]{met}[/]")
    console.print(table)


def markdown(out: dict) -> str:
    head = f"| fairness: owners A and B, B a Bell task every {B_EVERY_S} s | measured | target |"
    lines = [f"{head} met |", "| --- | ---: | ---: | --- |"]
    return "\n".join(lines + [f"| {' | '.join(row)} |" for row in rows(out)])
