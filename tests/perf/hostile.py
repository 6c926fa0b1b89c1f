"""The bench's hostile phase: what large and costly programs do to the service and to others.

Baselines in the same run: the front end's own time to read each program in this process
(``programs.front.read_program``), and other clients' answer times on an idle API. Then, on the
running stack:

- ``accept_big``: POST of a valid 127 KB program that only the reference parser reads, one at
  a time (time to its 202), against the in-process read of the same program;
- ``refuse``: POST of each bomb (a gate definition nested 30 levels, OpenQASM 3 and 2; a loop of
  10^9 iterations; a 10^8-qubit register), time to its 422;
- ``others``: ``/healthz`` and ``GET /tasks/{id}`` answer times, one request at a time, on an idle
  API and while ``flood`` clients keep POSTing 127 KB programs (p50, p99, max).
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid

import aiohttp
import orjson

from tests.helpers import BELL
from tests.hostile import big_program, gate_bomb, loop_bomb
from tests.perf.loadgen import JSON, percentiles

BOMBS = {
    "gate_bomb_30": gate_bomb(30),
    "qasm2_gate_bomb_30": gate_bomb(30, version=2),
    "loop_1e9": loop_bomb(10**9),
    "qubits_1e8": 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[100000000] q;\n',
}


def in_process(repeat: int = 3) -> dict[str, float]:
    """Median ms of the front end reading each program here (the bombs: until refused)."""
    from programs.errors import ProgramError
    from programs.front import read_program
    from runtime.settings import Settings

    limits = Settings().limits
    programs = {"big_127kb": big_program(), **BOMBS}
    out = {}
    for name, text in programs.items():
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            try:
                read_program(text, limits)
            except ProgramError:
                pass
            times.append((time.perf_counter() - start) * 1000)
        out[name] = round(statistics.median(times), 3)
    return out


async def _timed_post(session: aiohttp.ClientSession, url: str, text: str) -> tuple[int, float]:
    """POST a program made unique by a comment of its own: the API keeps the readings of the
    programs it has seen, and each POST here must be read."""
    text = f"{text}\n// {uuid.uuid4()}\n"
    start = time.perf_counter()
    async with session.post(f"{url}/tasks", data=orjson.dumps({"qc": text}), headers=JSON) as r:
        await r.read()
        return r.status, (time.perf_counter() - start) * 1000


async def _others(session: aiohttp.ClientSession, url: str, task_id: str, count: int) -> list:
    times = []
    for i in range(count):
        path = "/healthz" if i % 2 == 0 else f"/tasks/{task_id}"
        start = time.perf_counter()
        async with session.get(url + path) as response:
            await response.read()
        times.append((time.perf_counter() - start) * 1000)
        await asyncio.sleep(0.02)  # a client's pace, not a flood of its own
    return times


def _stats(values: list[float]) -> dict:
    return percentiles(values) if values else {}


async def service(url: str, flood: int = 4, rounds: int = 3, others: int = 100) -> dict:
    big = big_program()
    out: dict = {}
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        async with session.post(
            f"{url}/tasks", data=orjson.dumps({"qc": BELL}), headers=JSON
        ) as response:
            task_id = (await response.json())["task_id"]
        out["others_idle_ms"] = _stats(await _others(session, url, task_id, others))

        accepted = [await _timed_post(session, url, big) for _ in range(rounds)]
        out["accept_big_ms"] = round(statistics.median(t for _, t in accepted), 2)
        out["accept_big_statuses"] = sorted({s for s, _ in accepted})

        refused: dict[str, float] = {}
        for name, text in BOMBS.items():
            answers = [await _timed_post(session, url, text) for _ in range(rounds)]
            assert {s for s, _ in answers} == {422}, (name, answers)
            refused[name] = round(statistics.median(t for _, t in answers), 2)
        out["refuse_ms"] = refused

        stop = asyncio.Event()
        flooded = 0

        async def flooder() -> None:
            nonlocal flooded
            while not stop.is_set():
                await _timed_post(session, url, big)
                flooded += 1

        flooders = [asyncio.create_task(flooder()) for _ in range(flood)]
        await asyncio.sleep(0.5)  # the flood's first programs are being read
        during = await _others(session, url, task_id, others)
        stop.set()
        await asyncio.gather(*flooders)
        out["others_during_flood_ms"] = _stats(during)
        out["flood"] = {"clients": flood, "programs_accepted": flooded}
    idle, busy = out["others_idle_ms"], out["others_during_flood_ms"]
    out["others_p99_flood_vs_idle"] = round(busy["p99"] / idle["p99"], 2) if idle else None
    return out


def markdown(results: dict) -> str:
    base, svc = results.get("in_process_ms", {}), results.get("service", {})
    lines = [
        "| program | read in-process (ms) | through the API (ms) | answer |",
        "| --- | ---: | ---: | --- |",
        f"| valid, 127 KB | {base.get('big_127kb')} | {svc.get('accept_big_ms')} | 202 |",
    ]
    for name, value in svc.get("refuse_ms", {}).items():
        lines.append(f"| {name} | {base.get(name)} | {value} | 422 |")
    idle, busy = svc.get("others_idle_ms", {}), svc.get("others_during_flood_ms", {})
    lines += [
        "",
        "| other clients (/healthz, GET) | p50 | p99 | max |",
        "| --- | ---: | ---: | ---: |",
        f"| idle API | {idle.get('p50')} | {idle.get('p99')} | {idle.get('max')} |",
        f"| {svc.get('flood', {}).get('clients')} clients POSTing 127 KB programs | "
        f"{busy.get('p50')} | {busy.get('p99')} | {busy.get('max')} |",
    ]
    return "\n".join(lines)
