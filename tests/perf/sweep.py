"""The bench's sweep phase: a 100-point parameter sweep of a 10-qubit hardware-efficient ansatz,
as a variational algorithm submits it.

Baselines in the same run, in this process, with the same circuit, points, shots and seed:
``naive`` binds each point and runs it (one Aer call per point, as a loop written without
thought does) and ``best`` runs every point in one Aer call with ``parameter_binds``. The
service gets the sweep as one task (``parameters`` a list of 100 points) and is timed from the
POST to its result through GET (long-poll), read as the Python client reads it (orjson). Each
figure is the median of ``rounds`` after the first (the first round of the service, which reads
the program, is reported apart); the service's counts are checked equal to the best baseline's.
"""

from __future__ import annotations

import statistics
import time
from functools import partial

import httpx
import orjson
from qiskit import QuantumCircuit, qasm3
from qiskit.circuit import Parameter

QUBITS, LAYERS, POINTS, SHOTS, SEED = 10, 2, 100, 256, 7


def ansatz(qubits: int = QUBITS, layers: int = LAYERS) -> QuantumCircuit:
    """RY and RZ on every qubit, then a line of CX, ``layers`` times, and a last rotation layer:
    a hardware-efficient ansatz with 2 * qubits * (layers + 1) parameters."""
    circuit = QuantumCircuit(qubits)
    count = 0

    def rotations() -> None:
        nonlocal count
        for qubit in range(qubits):
            circuit.ry(Parameter(f"t{count:03d}"), qubit)
            circuit.rz(Parameter(f"t{count + 1:03d}"), qubit)
            count += 2

    for _ in range(layers):
        rotations()
        for qubit in range(qubits - 1):
            circuit.cx(qubit, qubit + 1)
    rotations()
    circuit.measure_all()
    return circuit


def points(circuit: QuantumCircuit, count: int = POINTS) -> list[dict[str, float]]:
    """Deterministic points spread over the parameters' range."""
    names = [p.name for p in circuit.parameters]
    return [{name: ((i * 7 + j * 13) % 97) / 97 * 6.283 for j, name in enumerate(names)}
            for i in range(count)]  # fmt: skip


#: The first round of each way, apart: the service reads a program the first time it sees it.
FIRST: dict[str, float] = {}


def _median_s(run, rounds: int, name: str = "") -> tuple[float, object]:
    """The median seconds of ``rounds`` runs after the first (reported apart, in FIRST: it
    reads the program, as a variational loop's first call does), and the last answer."""
    times, found = [], None
    for _ in range(rounds):
        start = time.perf_counter()
        found = run()
        times.append(time.perf_counter() - start)
    FIRST[name] = times[0]
    return statistics.median(times[1:] or times), found


def in_process(rounds: int = 3) -> dict:
    """Seconds per sweep of the naive loop and of the one-call way, and the latter's counts."""
    from qiskit_aer import AerSimulator

    circuit, swept = ansatz(), points(ansatz())
    simulator = AerSimulator()

    def naive():
        out = []
        for point in swept:
            bound = circuit.assign_parameters({p: point[p.name] for p in circuit.parameters})
            result = simulator.run(bound, shots=SHOTS, seed_simulator=SEED).result()
            out.append(result.get_counts())
        return out

    def best(runtime_bind: bool):
        binds = [{p: [point[p.name] for point in swept] for p in circuit.parameters}]
        result = simulator.run(
            circuit,
            shots=SHOTS,
            seed_simulator=SEED,
            parameter_binds=binds,
            runtime_parameter_bind_enable=runtime_bind,
        ).result()
        return [result.get_counts(i) for i in range(len(swept))]

    naive_s, _ = _median_s(naive, rounds)
    # Aer's two ways to bind every point in one call; the faster one is the best.
    best_s, counts, how = min(
        (
            (*_median_s(partial(best, runtime), rounds), how)
            for runtime, how in ((False, "bound up front"), (True, "bound at run time"))
        ),
        key=lambda found: found[0],
    )
    return {"naive_s": round(naive_s, 4), "best_s": round(best_s, 4), "best_how": how,
            "counts": counts}  # fmt: skip


def service(url: str, rounds: int = 3) -> dict:
    """Seconds from the POST of the sweep to its result, and its counts."""
    circuit = ansatz()
    body = {"qc": qasm3.dumps(circuit), "parameters": points(circuit), "shots": SHOTS,
            "seed": SEED}  # fmt: skip
    with httpx.Client(base_url=url, timeout=120) as client:

        def one():
            response = client.post("/tasks", json=body)
            assert response.status_code == 202, response.text
            task_id = response.json()["task_id"]
            while True:
                answer = client.get(f"/tasks/{task_id}", params={"wait": 30})
                done = orjson.loads(answer.content)  # as qcexec_client reads an answer
                if done["status"] != "pending":
                    return done

        seconds, done = _median_s(one, rounds, "service")
    assert done["status"] == "completed", done
    return {
        "service_s": round(seconds, 4),
        "service_first_s": round(FIRST["service"], 4),
        "counts": [p["counts"] for p in done["results"]],
    }


def summary(base: dict, svc: dict) -> dict:
    return {
        "qubits": QUBITS,
        "parameters": 2 * QUBITS * (LAYERS + 1),
        "points": POINTS,
        "shots": SHOTS,
        "naive_s": base["naive_s"],
        "best_s": base["best_s"],
        "best_how": base["best_how"],
        "service_s": svc["service_s"],
        "service_first_s": svc["service_first_s"],
        "service_vs_naive": round(base["naive_s"] / svc["service_s"], 2),
        "service_vs_best": round(base["best_s"] / svc["service_s"], 2),
        "counts_equal_best": svc["counts"] == base["counts"],
    }


def markdown(results: dict) -> str:
    r = results
    return "\n".join(
        [
            f"| sweep: {r['points']} points of a {r['qubits']}-qubit ansatz "
            f"({r['parameters']} parameters, {r['shots']} shots) | seconds | service speed-up |",
            "| --- | ---: | ---: |",
            f"| naive in-process (bind and run each point) | {r['naive_s']} | "
            f"{r['service_vs_naive']}x |",
            f"| best in-process (one Aer call, all bindings {r['best_how']}) | {r['best_s']} | "
            f"{r['service_vs_best']}x |",
            "| service (one task, POST to result; median of the rounds after the first) | "
            f"{r['service_s']} | |",
            f"| service, first round (the program read for the first time) | "
            f"{r['service_first_s']} | |",
        ]
    )
