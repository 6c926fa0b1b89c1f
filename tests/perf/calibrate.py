"""The bench's ``estimate`` phase: fits the dry run's run-time model (``programs/estimate.py``)
on this machine, from runs in this process of the simulator workers' own function
(``processor.simulate.run_program``, one thread, as a worker runs a task), and says how close
the fitted model comes to each run. Writes the coefficients to ``calibration.json`` beside the
bench's report; ``API_ESTIMATE_CALIBRATION`` points the API at it.

Also compares the dry run's memory figures with Aer's own (``required_memory_mb`` of each
run's metadata) for the same circuits."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
from qiskit import qasm3
from qiskit.circuit.random import random_circuit

from programs.estimate import Calibration, Coefficients, state_bytes
from programs.front import check_program
from programs.weight import task_work, units
from schemas.events import Method, Noise, TaskSubmitted, utcnow
from tests.perf.workloads import ghz
from tests.reading import GENEROUS

SHOTS = 1000
NOISE = {"depolarizing": {"one_qubit": 0.001, "two_qubit": 0.01}}


def _ghz(qubits: int) -> str:
    return qasm3.dumps(ghz(qubits))


def _random(qubits: int, depth: int) -> str:
    return qasm3.dumps(random_circuit(qubits, depth, measure=True, seed=qubits * 100 + depth))


#: (name, program, method, noise): each family of methods over sizes that span its range.
CASES = [
    *[(f"rand{n}x{d}", _random(n, d), Method.STATEVECTOR, None)
      for n, d in ((2, 4), (8, 10), (14, 10), (18, 10), (20, 10), (22, 8))],
    *[(f"rand{n}x{d} dm", _random(n, d), Method.DENSITY_MATRIX, NOISE)
      for n, d in ((2, 4), (6, 8), (8, 8), (10, 6))],
    *[(f"ghz{n} stabilizer", _ghz(n), Method.STABILIZER, None) for n in (2, 10, 20, 40)],
]  # fmt: skip


def _work(program: str, method: Method, noise: dict | None) -> tuple[int, int]:
    checked = check_program(program, GENEROUS.for_method(method), method=method)
    assert checked is not None
    task = TaskSubmitted(
        task_id="calibration", qasm=program, shots=SHOTS, seed=1, submitted_at=utcnow(),
        method=method, noise=Noise.model_validate(noise) if noise else None,
        qubits=checked.qubits, operations=checked.operations,
    )  # fmt: skip
    return task_work(task), checked.qubits


def _seconds(program: str, method: Method, noise: dict | None, repeat: int) -> float:
    from processor.simulate import run_program

    kwargs = {"method": method, "noise": Noise.model_validate(noise) if noise else None}
    run_program(program, SHOTS, 1, GENEROUS, 8192, 1, **kwargs)  # read and cache it once
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run_program(program, SHOTS, 1, GENEROUS, 8192, 1, **kwargs)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _fit(points: list[tuple[float, float]]) -> Coefficients:
    """Least squares of seconds on units, relative to each run's own time (a small run counts
    as much as a large one), with both coefficients at least 0."""
    x = np.array([u for u, _ in points])
    y = np.array([s for _, s in points])
    design = np.stack([np.ones_like(x), x], axis=1) / y[:, None]
    (overhead, per_unit), *_ = np.linalg.lstsq(design, np.ones_like(y), rcond=None)
    if overhead < 0:
        overhead, per_unit = 0.0, float(np.sum(x / y) / np.sum((x / y) ** 2))
    if per_unit < 0:
        overhead, per_unit = float(np.median(y)), 0.0
    return Coefficients(overhead_s=float(overhead), seconds_per_unit=float(per_unit))


def aer_memory_mb(program: str, method: Method) -> int:
    """Aer's own figure for the state's memory of one run of ``program``."""
    from qiskit_aer import AerSimulator

    from processor.simulate import prepare
    from tests.reading import parse_program

    simulator = AerSimulator(method=method.value)
    runnable = prepare(parse_program(program), simulator)
    result = simulator.run(runnable, shots=1, seed_simulator=1).result()
    return int(result.results[0].metadata["required_memory_mb"])


def calibrate(out: Path, machine: str, repeat: int = 3) -> dict:
    """Fit, write ``out``, and report each case: measured and estimated seconds, and the state's
    memory by the dry run and by Aer."""
    rows, families = [], {"statevector": [], "density_matrix": [], "stabilizer": []}
    for name, program, method, noise in CASES:
        work, qubits = _work(program, method, noise)
        seconds = _seconds(program, method, noise, repeat)
        family = "stabilizer" if method is Method.STABILIZER else method.value
        families[family].append((units(work), seconds))
        estimate = state_bytes(method, qubits)
        aer_mb = aer_memory_mb(program, method) if method is not Method.STABILIZER else None
        rows.append({
            "case": name, "method": method.value, "qubits": qubits, "work": work,
            "seconds": seconds, "memory_estimate_mb": math.ceil(estimate / 2**20)
            if estimate is not None else None, "memory_aer_mb": aer_mb,
        })  # fmt: skip
    fitted = Calibration(machine=machine, **{k: _fit(v) for k, v in families.items()})
    out.write_text(fitted.model_dump_json(indent=2) + "\n")
    for row in rows:
        predicted = fitted.seconds(Method(row["method"]), row["work"])
        row["estimated_seconds"] = predicted
        row["ratio"] = predicted / row["seconds"]
    return {"calibration": fitted.model_dump(), "cases": rows, "written": str(out)}


def markdown(found: dict) -> str:
    lines = [
        "| case | method | qubits | measured (ms) | estimated (ms) | estimate / measured | "
        "state memory: dry run / Aer (MB) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in found["cases"]:
        memory = (
            f"{row['memory_estimate_mb']} / {row['memory_aer_mb']}"
            if row["memory_aer_mb"] is not None
            else "-"
        )
        lines.append(
            f"| {row['case']} | {row['method']} | {row['qubits']} | {row['seconds'] * 1000:.2f} "
            f"| {row['estimated_seconds'] * 1000:.2f} | {row['ratio']:.2f} | {memory} |"
        )
    return "\n".join(lines)
