"""The benchmark harness on a handful of Bell tasks, so that ``make bench`` cannot rot.

It runs as ``make bench`` does (its own process, its own API, processor and materializer) but
against the session's broker and Redis, through ``tests/services.py``'s environment variables.
Nothing about timing is asserted: timings belong in the benchmark's output only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from programs.estimate import Calibration
from tests.services import Services

REPO = Path(__file__).resolve().parents[2]
PHASES = ("light", "burst", "batch", "closed")


@pytest.mark.timeout(420)  # beyond the bench's own bound of 300 s, which reports first
def test_bench_smoke(real_services: Services, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "QCEXEC_TEST_KAFKA": real_services.kafka_bootstrap,
        "QCEXEC_TEST_REDIS": real_services.redis_url,
    }
    command = [sys.executable, "-m", "tests.perf.bench", "--smoke", "--workloads", "bell"]
    run = subprocess.run(
        [*command, "--out", str(tmp_path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, f"{run.stdout[-4000:]}\n{run.stderr[-4000:]}"

    results = json.loads((tmp_path / "bench.json").read_text())
    assert {"meta", "workloads", "memory", "targets"} <= results.keys()
    assert results["meta"]["cores"] == os.cpu_count()
    assert list(results["workloads"]) == ["bell"]
    bell = results["workloads"]["bell"]
    assert {"naive", "best", "service", "ratios", "components_ms", "cpu_ms_per_task"} <= set(bell)
    assert bell["naive"]["per_s"] > 0 and bell["best"]["per_s"] > 0
    assert set(bell["ratios"]) == {
        f"{phase}_vs_{base}" for phase in ("service", "closed_loop") for base in ("naive", "best")
    }
    for phase in PHASES:
        stats = bell["service"][phase]
        assert stats["errors"] == {}, phase
        assert stats["accepted"] == stats["submitted"] > 0, phase
        # Every accepted task became visible through GET, and a Bell circuit never fails.
        assert stats["completed"] == stats["accepted"], phase
        if phase != "batch":
            assert {"p50", "p95", "p99"} <= stats["latency_ms"].keys(), phase
    for phase in ("burst", "batch"):
        assert {"ingest_per_s", "throughput_per_s"} <= bell["service"][phase].keys(), phase
    # The service and the naive baseline agree on the counts of seed 0.
    assert bell["service_counts_equal_naive_seed0"] is True

    hostile = results["hostile"]
    assert set(hostile["in_process_ms"]) == {"big_127kb", *hostile["service"]["refuse_ms"]}
    assert hostile["service"]["accept_big_statuses"] == [202]
    assert len(hostile["service"]["refuse_ms"]) == 4  # each bomb answered 422 (asserted there)
    assert hostile["service"]["others_during_flood_ms"]["n"] > 0
    assert "127 KB" in (tmp_path / "bench.md").read_text()

    # The sweep ran as one task and gave the counts of one Aer call with every binding.
    assert results["sweep"]["points"] == 100 and results["sweep"]["counts_equal_best"] is True
    assert {t["what"] for t in results["targets"] if t["workload"] == "sweep"} == {
        "sweep speed / naive loop",
        "sweep speed / one Aer call",
    }
    assert "one Aer call" in (tmp_path / "bench.md").read_text()

    # Fairness, on a stack with two API keys: A's 30 tasks alone and beside B's, the heavy
    # tasks (more than the workers), every task of both owners completed.
    fair = results["fairness"]
    assert fair["errors"] == {"A": {}, "B": {}}
    for a in (fair["a_alone"], fair["a_with_b"]["a"], fair["heavy"]["a"]):
        assert a["accepted"] == a["tasks"] > 0 and a["states"] == {"completed": a["tasks"]}
    for b in (fair["b_alone"], fair["a_with_b"]["b"], fair["heavy"]["b"]):
        assert b["count"] > 0 and b["states"] == {"completed": b["count"]}
        assert b["latency_ms"]["n"] == b["count"]
    assert fair["a_alone"]["tasks"] == 30
    assert fair["heavy"]["a"]["tasks"] > fair["settings"]["processor_workers"]
    assert fair["a_with_b"]["a_vs_alone"] > 0
    assert {t["what"] for t in results["targets"] if t["workload"] == "fairness"} == {
        "A + B: B's slowest task (ms)",
        "A + B: A's throughput / A alone",
        "heavy: B's slowest task (ms)",
    }
    assert "fairness: owners A and B" in (tmp_path / "bench.md").read_text()

    # The dry run's run-time model, fitted here and written for the API; its memory figures
    # are Aer's own.
    fitted = Calibration.model_validate_json((tmp_path / "calibration.json").read_bytes())
    assert fitted.statevector.seconds_per_unit > 0
    for row in results["estimate"]["cases"]:
        if row["memory_aer_mb"] is not None:
            assert (
                abs(row["memory_estimate_mb"] - row["memory_aer_mb"]) <= row["memory_aer_mb"] / 10
            )
    assert "estimate / measured" in (tmp_path / "bench.md").read_text()

    labels = {process["label"] for process in results["memory"]["processes"]}
    assert {"api", "materializer", "processor0", "processor0/worker"} <= labels
    assert {"fairness-api", "fairness-processor0/worker"} <= labels
    assert (tmp_path / "bench.png").stat().st_size > 0
    assert "| bell |" in (tmp_path / "bench.md").read_text()
