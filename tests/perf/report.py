"""What a benchmark run prints and writes: rich tables, a Markdown table for the README, the
JSON file and the chart."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tests.perf.monitor import BENCH

#: Known targets (from the issue), checked for information only: never an assertion.
TARGETS = [
    ("bell", "end-to-end throughput / naive", ("ratios", "service_vs_naive"), ">=", 1.0),
    ("rand20", "end-to-end throughput / best", ("ratios", "service_vs_best"), ">=", 0.8),
    ("bell", "light-load p50 (ms)", ("service", "light", "latency_ms", "p50"), "<=", 20.0),
    ("bell", "light-load p99 (ms)", ("service", "light", "latency_ms", "p99"), "<=", 60.0),
    ("bell", "ingest (202/s)", ("service", "burst", "ingest_per_s"), ">=", 2000.0),
    ("bell", "batch ingest (202/s)", ("service", "batch", "ingest_per_s"), ">=", 2000.0),
]

#: The sweep phase (tests/perf/sweep.py): one task of 100 points against the in-process loops.
SWEEP_TARGETS = [
    ("sweep speed / naive loop", "service_vs_naive", 5.0),
    ("sweep speed / one Aer call", "service_vs_best", 0.8),
]


def _get(data: dict, path: tuple[str, ...]):
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _n(value, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        return f"{value:.{digits}f}"
    return str(value)


def _x(value) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _lat(stats: dict | None, keys=("p50", "p95", "p99")) -> str:
    if not stats or not stats.get("n"):
        return "-"
    return " / ".join(_n(stats[k]) for k in keys)


def check_targets(results: dict) -> list[dict]:
    checks = []
    for workload, what, path, op, bound in TARGETS:
        data = results["workloads"].get(workload)
        if data is None:
            continue
        value = _get(data, path)
        met = None if value is None else (value >= bound if op == ">=" else value <= bound)
        checks.append(
            {"workload": workload, "what": what, "target": f"{op} {bound:g}", "value": value,
             "met": met}
        )  # fmt: skip
    for what, key, bound in SWEEP_TARGETS:
        value = results.get("sweep", {}).get(key)
        if value is not None:
            met = value >= bound
            checks.append(
                {"workload": "sweep", "what": what, "target": f">= {bound:g}", "value": value,
                 "met": met}
            )  # fmt: skip
    return checks


def print_tables(results: dict, console: Console) -> None:
    if results["workloads"]:
        _workload_tables(results, console)

    memory = results.get("memory", {})
    if memory.get("processes"):
        table = Table(title="Peak memory per process (MB)")
        for column in ("process", "pid", "peak RSS", "peak PSS"):
            table.add_column(column, justify="left" if column == "process" else "right")
        for process in memory["processes"]:
            table.add_row(
                process["label"],
                str(process["pid"]),
                _n(process["peak_rss_mb"]),
                _n(process["peak_pss_mb"]),
            )
        console.print(table)

    table = Table(title="Known targets (information, not assertions)")
    for column in ("workload", "what", "target", "measured", "met"):
        table.add_column(column)
    for check in results.get("targets", []):
        met = {True: "[green]yes[/]", False: "[red]no[/]", None: "-"}[check["met"]]
        table.add_row(check["workload"], check["what"], check["target"], _n(check["value"], 2), met)
    console.print(table)


def _workload_tables(results: dict, console: Console) -> None:
    meta = results["meta"]
    workloads = results["workloads"]

    table = Table(title=f"Throughput on {meta['cores']} cores (circuits or tasks per second)")
    for column in ("workload", "naive", "best (how)", "service e2e", "service closed loop",
                   "svc/naive", "svc/best", "ingest 202/s", "batch ingest"):  # fmt: skip
        table.add_column(column, justify="left" if column.startswith(("work", "best")) else "right")
    for name, w in workloads.items():
        service = w.get("service", {})
        table.add_row(
            name,
            _n(_get(w, ("naive", "per_s"))),
            f"{_n(_get(w, ('best', 'per_s')))} ({_get(w, ('best', 'strategy'))}, "
            f"{_get(w, ('best', 'parser'))})",
            _n(_get(service, ("burst", "throughput_per_s"))),
            _n(_get(service, ("closed", "throughput_per_s"))),
            _x(_get(w, ("ratios", "service_vs_naive"))),
            _x(_get(w, ("ratios", "service_vs_best"))),
            _n(_get(service, ("burst", "ingest_per_s"))),
            _n(_get(service, ("batch", "ingest_per_s"))),
        )
    console.print(table)

    table = Table(title="Latency, submit to result visible through GET (ms: p50 / p95 / p99)")
    for column in ("workload", "light load", "light: 202 only", "saturated (closed loop)",
                   "inflight", "burst (queueing)"):  # fmt: skip
        table.add_column(column, justify="right" if column != "workload" else "left")
    for name, w in workloads.items():
        service = w.get("service", {})
        table.add_row(
            name,
            _lat(_get(service, ("light", "latency_ms"))),
            _lat(_get(service, ("light", "submit_ms"))),
            _lat(_get(service, ("closed", "latency_ms"))),
            _n(_get(service, ("closed", "inflight"))),
            _lat(_get(service, ("burst", "latency_ms"))),
        )
    console.print(table)

    stage_names = ["http_and_parse", "ack_and_view", "to_processor", "execute", "to_visible"]
    table = Table(title="Where a light-load task's time goes (median ms; see loadgen.stages)")
    table.add_column("workload")
    for stage in stage_names:
        table.add_column(stage, justify="right")
    table.add_column("in-process: parse_program / Aer run", justify="right")
    for name, w in workloads.items():
        got = _get(w, ("service", "light", "stages_median_ms")) or {}
        components = w.get("components_ms", {})
        table.add_row(
            name,
            *(_n(got.get(stage), 2) for stage in stage_names),
            f"{_n(components.get('parse_program'), 2)} / {_n(components.get('aer_run'), 2)}",
        )
    console.print(table)

    roles = sorted({role for w in workloads.values() for role in w.get("cpu_ms_per_task", {})})
    if roles:
        table = Table(title="CPU milliseconds per task during the burst (all processes)")
        table.add_column("workload")
        for role in roles:
            table.add_column(role, justify="right")
        table.add_column("total", justify="right")
        for name, w in workloads.items():
            cpu = w.get("cpu_ms_per_task", {})
            table.add_row(name, *(_n(cpu.get(role), 2) for role in roles), _n(sum(cpu.values()), 2))
        console.print(table)


def _service_memory(memory: dict) -> list[tuple[str, int, float, float]]:
    """Per label of the service's processes (the benchmark's own left out): how many, and the
    largest peak RSS and PSS among them, in MB."""
    grouped: dict[str, list[dict]] = {}
    for process in memory.get("processes", []):
        if process["label"].split("/")[0] != BENCH:
            grouped.setdefault(process["label"], []).append(process)
    return [
        (
            label,
            len(group),
            max(p["peak_rss_mb"] for p in group),
            max(p["peak_pss_mb"] for p in group),
        )
        for label, group in grouped.items()
    ]


def markdown(results: dict) -> str:
    meta = results["meta"]
    caption = (
        f"Measured by `make bench` on {meta['cores']} cores ({meta['cpu_model']}), "
        f"Python {meta['python']}, Qiskit {meta['qiskit']}, Aer {meta['qiskit_aer']}, "
        f"{meta['shots']} shots, commit {meta['commit']}. Throughput in circuits (or tasks) "
        "per second; the service's is end to end at saturation (submitted to result visible "
        "through GET); latency from submit to the result visible through GET, in ms."
    )
    if not results["workloads"]:
        caption = caption.split(". Throughput")[0] + "."
    lines = [
        textwrap.fill(caption, 100),
        "",
        "| workload | naive in-process | best in-process | service | service / naive "
        "| service / best | ingest (202/s) | batch ingest (202/s) | light load p50 / p95 / p99 "
        "| saturated p50 / p95 / p99 |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    if not results["workloads"]:
        lines = lines[:1]
    for name, w in results["workloads"].items():
        service = w.get("service", {})
        cells = [
            name,
            _n(_get(w, ("naive", "per_s"))),
            _n(_get(w, ("best", "per_s"))),
            _n(_get(service, ("burst", "throughput_per_s"))),
            _x(_get(w, ("ratios", "service_vs_naive"))),
            _x(_get(w, ("ratios", "service_vs_best"))),
            _n(_get(service, ("burst", "ingest_per_s"))),
            _n(_get(service, ("batch", "ingest_per_s"))),
            _lat(_get(service, ("light", "latency_ms"))),
            _lat(_get(service, ("closed", "latency_ms"))),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    memory = _service_memory(results.get("memory", {}))
    if memory:
        lines += [
            "",
            "| process | count | peak RSS (MB) | peak PSS (MB) |",
            "| --- | ---: | ---: | ---: |",
            *(
                f"| {label} | {count} | {_n(rss)} | {_n(pss)} |"
                for label, count, rss, pss in memory
            ),
        ]
    return "\n".join(lines)


def write_json(results: dict, path: Path) -> None:
    path.write_text(json.dumps(results, indent=2, sort_keys=False, default=str) + "\n")


def chart(results: dict, latencies: dict[str, dict[str, list[float]]], path: Path) -> None:
    """Throughput bars against both baselines (log scale), and latency distributions."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    workloads = results["workloads"]
    names = list(workloads)
    series = [
        ("naive in-process", ("naive", "per_s"), "#9e9e9e"),
        ("best in-process", ("best", "per_s"), "#424242"),
        ("service (burst)", ("service", "burst", "throughput_per_s"), "#1e88e5"),
        ("service (closed loop)", ("service", "closed", "throughput_per_s"), "#90caf9"),
    ]
    figure, (bars, dist) = plt.subplots(1, 2, figsize=(14, 5.5))
    width = 0.2
    x = np.arange(len(names))
    for i, (label, path_, color) in enumerate(series):
        values = [_get(workloads[n], path_) or 0 for n in names]
        drawn = bars.bar(x + (i - 1.5) * width, values, width, label=label, color=color)
        bars.bar_label(drawn, labels=[_n(v) if v else "" for v in values], fontsize=7)
    for i, name in enumerate(names):
        ratios = workloads[name].get("ratios", {})
        bars.annotate(
            f"{_x(ratios.get('service_vs_naive'))} naive\n{_x(ratios.get('service_vs_best'))} best",
            (x[i], 0),
            xycoords=("data", "axes fraction"),
            xytext=(0, -32),
            textcoords="offset points",
            ha="center",
            fontsize=8,
        )
    bars.set_yscale("log")
    bars.set_xticks(x, names)
    bars.set_ylabel("circuits or tasks per second (log)")
    bars.set_title(f"Throughput, {results['meta']['cores']} cores")
    bars.legend(fontsize=8)

    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, name in enumerate(names):
        for phase, style in (("light", "-"), ("closed", "--")):
            values = np.sort(np.asarray(latencies.get(name, {}).get(phase, []), dtype=float))
            if values.size:
                cdf = np.arange(1, values.size + 1) / values.size
                load = "light load" if phase == "light" else "saturated"
                color = colors[i % len(colors)]
                dist.step(values, cdf, style, where="post", color=color, label=f"{name} {load}")
    dist.set_xscale("log")
    dist.set_xlabel("submit to result visible through GET (ms, log)")
    dist.set_ylabel("fraction of tasks")
    dist.set_title("Latency distribution")
    dist.grid(True, which="both", alpha=0.3)
    dist.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
