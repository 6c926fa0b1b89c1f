"""``make bench`` (``python -m tests.perf.bench --help``): the service against the simulator
itself, on the same machine, with the same circuits, in one run.

Longer than 300 lines: it is the bench's one command (its options, the phases in order, the
report); each phase's own work is in a module of its own (baselines, loadgen, hostile, sweep).

1. In-process baselines, before any service process runs: naive (``qasm3.loads`` and
   ``AerSimulator().run`` one circuit at a time) and best (the fastest way found to use every
   core); see ``baselines.py``.
2. The whole stack on free ports (a Kafka broker and redis-server found or started by
   ``tests/services.py``, then API, processor(s) and materializer as in ``tests/stack.py``),
   loaded over HTTP: light load, a burst (ingest and saturated throughput) and a closed loop
   (latency at saturation); see ``loadgen.py``.
3. Every process's peak memory and the CPU each one spends per task (``monitor.py``).
4. With ``--profile``: pyinstrument profiles of the API, processor and materializer under
   load, and of the processor's per-task function in-process.
5. Fairness (``fairness.py``), on a stack of its own with two API keys: one owner's flood and
   heavy tasks against another owner's small tasks.
6. Estimate (``calibrate.py``): the dry run's run-time model fitted on this machine (written to
   ``calibration.json``), how close it comes on each circuit, and its memory figures against
   Aer's own.

``--only`` runs some phases alone (``--only fairness``): ``workloads`` (1 to 4), ``hostile``,
``sweep``, ``fairness``, ``estimate``.

Writes ``bench.json``, ``bench.png`` and ``bench.md`` to ``--out`` and prints tables with the
ratios service/naive and service/best, and a Markdown table for the README. Ratios, not
absolute figures, are what carry from one run to the next: these machines are noisy.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from tests.perf import baselines, calibrate, fairness, hostile, loadgen, report, sweep
from tests.perf.monitor import BENCH, Monitor
from tests.perf.workloads import (
    Workload,
    build_workloads,
    choose_parser,
    executable,
    median_ms,
    parse,
    simulator,
)

REPO = Path(__file__).resolve().parents[2]
# Wide enough for the tables when the output is a pipe or a file (rich assumes 80 columns).
console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
CORES = os.cpu_count() or 1
BATCH_SIZE, BATCH_CLIENTS = 100, 4  # the batch ingest phase: tasks a request, requests at once
#: What ``--only`` chooses from: the workloads' baselines and load (with the profiles), the
#: hostile programs, the sweep, the fairness between owners.
PHASES = ("workloads", "hostile", "sweep", "fairness", "estimate")


def say(message: str) -> None:
    console.log(message)


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "?"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        dirty = git("status", "--porcelain", "--untracked-files=no")
        return git("rev-parse", "--short", "HEAD") + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "?"


# --- 1. in process ---------------------------------------------------------------------------


def components(workload: Workload, shots: int, parser: str) -> dict:
    """Single-process timings of each step of one task (median ms): the service's parser, the
    baselines' parsers, preparing the circuit, and the simulation itself."""
    repeat = 3 if workload.name == "rand20" else 30
    out: dict[str, float] = {}
    try:
        from tests.reading import parse_program

        out["parse_program"] = median_ms(lambda: parse_program(workload.qasm), repeat)
    except Exception as exc:  # the service's code is not this harness's to fix
        say(f"[yellow]reading a program (tests.reading.parse_program) failed: {exc!r}")
    out["qasm3.loads"] = median_ms(lambda: parse(workload.qasm, "loads"), repeat)
    if parser == "loads_experimental":
        out["loads_experimental"] = median_ms(
            lambda: parse(workload.qasm, "loads_experimental"), repeat
        )
    circuit = parse(workload.qasm, "loads")
    one, every = simulator(1), simulator()
    out["prepare"] = median_ms(lambda: executable(circuit, one), repeat)
    ready = executable(circuit, one)
    one.run(ready, shots=shots, seed_simulator=1).result()
    every.run(ready, shots=shots, seed_simulator=1).result()
    out["aer_run_1_thread"] = median_ms(
        lambda: one.run(ready, shots=shots, seed_simulator=1).result(), repeat
    )
    out["aer_run"] = median_ms(
        lambda: every.run(ready, shots=shots, seed_simulator=1).result(), repeat
    )
    return {name: round(value, 3) for name, value in out.items()}


def run_baselines(workloads: list[Workload], shots: int, best_workers: int) -> dict[str, dict]:
    results: dict[str, dict] = {}
    for workload in workloads:
        parser = choose_parser(workload.qasm, shots)
        measured = components(workload, shots, parser)
        tasks = workload.sizes["baseline"]
        say(f"{workload.name}: naive baseline, {tasks} circuits")
        naive = baselines.naive(workload, tasks, shots)
        say(f"{workload.name}: best baseline ({parser}), {tasks} circuits per strategy")
        best = baselines.best(workload, tasks, shots, parser, best_workers)
        say(
            f"{workload.name}: naive {naive['per_s']:.1f}/s, best {best['per_s']:.1f}/s "
            f"({best['strategy']}); Aer run {measured['aer_run']:.2f} ms"
        )
        results[workload.name] = {
            "description": workload.description,
            "qasm_bytes": workload.bytes,
            "sizes": workload.sizes,
            "components_ms": measured,
            "naive": naive,
            "best": best,
        }
    return results


# --- 2. the service --------------------------------------------------------------------------


def run_service(
    workloads: list[Workload],
    results: dict[str, dict],
    monitor: Monitor,
    work: Path,
    options: dict,
) -> tuple[dict[str, dict[str, list[float]]], dict[str, str]]:
    """Start the stack, load it, fill ``results``; returns the raw latencies (for the chart)
    and the profiles written, if any."""
    from tests.services import services

    latencies: dict[str, dict[str, list[float]]] = {}
    profiles: dict[str, str] = {}
    main_stack = bool(workloads) or "sweep" in options or "hostile" in options
    with services(work / "services") as found:
        monitor.watch("kafka", found.broker.pid if found.broker else None)
        monitor.watch("redis", found.redis.pid if found.redis else None)
        if main_stack:
            profiles = _main_stack(found, workloads, results, monitor, work, options, latencies)
        if "fairness" in options:  # on a stack of its own, once the other is stopped
            options["fairness"].update(
                fairness.run(found, work, _env(options), options["smoke"],
                             options["phase_timeout"], monitor.watch, say)
            )  # fmt: skip
    return latencies, profiles


def _env(options: dict) -> dict[str, str]:
    return {"PROCESSOR_WORKERS": str(options["workers"]), "PYTHONPATH": str(REPO)}


def _main_stack(found, workloads, results, monitor, work, options, latencies) -> dict[str, str]:
    """The stack without API keys: the workloads' load, the sweep, the hostile programs, the
    profiles; fills ``results`` and ``latencies``, returns the profiles written."""
    from tests.stack import Stack

    profiles: dict[str, str] = {}
    stack = Stack(found, work, **_env(options))
    say(
        f"starting the stack: {options['processors']} processor(s), "
        f"{options['workers']} workers each"
    )
    started = time.perf_counter()
    try:
        stack.start(processors=options["processors"])
        say(f"stack ready in {time.perf_counter() - started:.1f} s at {stack.url}")
        monitor.watch("api", stack.api.pid)
        monitor.watch("materializer", stack.materializer.pid)
        for i, processor in enumerate(stack.processors):
            monitor.watch(f"processor{i}", processor.pid)
        for workload in workloads:
            results[workload.name]["service"], latencies[workload.name], cpu = _load(
                stack.url, workload, monitor, options
            )
            results[workload.name]["cpu_ms_per_task"] = cpu
        # Before the hostile phase: the large programs it leaves queued would delay it.
        if options.get("sweep") is not None:
            say("sweep: 100 points of a 10-qubit ansatz as one task")
            rounds = 1 if options["smoke"] else 8
            options["sweep"]["service"] = sweep.service(stack.url, rounds=rounds)
        if options.get("hostile") is not None:
            say("hostile programs: a 127 KB program, bombs, others' answers during a flood")
            small = options["smoke"]
            options["hostile"]["service"] = loadgen.run(
                hostile.service(
                    stack.url,
                    flood=2 if small else 4,
                    rounds=1 if small else 3,
                    others=10 if small else 100,
                )
            )
        if options["profile"] and workloads:
            stack.stop()
            profiles = _profile_stack(found, work, workloads, options)
    finally:
        stack.stop()
    return profiles


def _load(url: str, workload: Workload, monitor: Monitor, options: dict):
    sizes, shots, timeout = workload.sizes, options["shots"], options["phase_timeout"]
    qasm, name = workload.qasm, workload.name
    service: dict[str, dict] = {}

    reads = f"GET every {options['poll_ms']} ms" if options["poll_ms"] else "long-poll GETs"
    say(f"{name}: light load, {sizes['light']} tasks one at a time, {reads}")
    service["light"], light = loadgen.run(
        loadgen.light(url, qasm, sizes["light"], shots, options["poll_ms"], 3, timeout)
    )
    first = next((t for t in light if t.seed == 0 and t.doc), None)
    service["light"]["first_result"] = first.doc.get("result") if first else None

    say(f"{name}: burst of {sizes['burst']} tasks from {options['concurrency']} clients")
    before = monitor.cpu()
    service["burst"], _ = loadgen.run(
        loadgen.burst(
            url, qasm, sizes["burst"], shots, options["concurrency"], options["poll_ms"], timeout
        )
    )
    spent = monitor.cpu_since(before)
    done = max(1, service["burst"]["completed"] + service["burst"]["failed"])
    cpu = {label: round(seconds * 1000 / done, 3) for label, seconds in sorted(spent.items())}
    service["burst"]["cpu_s"] = {label: round(s, 3) for label, s in spent.items()}

    say(f"{name}: {sizes['batch']} tasks through POST /tasks/batch, {BATCH_SIZE} a request")
    service["batch"], _ = loadgen.run(
        loadgen.batched(url, qasm, sizes["batch"], shots, BATCH_SIZE, BATCH_CLIENTS, timeout)
    )

    say(f"{name}: closed loop, {sizes['closed']} tasks, {options['inflight']} in flight")
    service["closed"], closed = loadgen.run(
        loadgen.closed(
            url,
            qasm,
            sizes["closed"],
            shots,
            options["inflight"],
            options["poll_ms"],
            timeout,
        )
    )
    say(
        f"{name}: ingest {service['burst']['ingest_per_s']}/s, end-to-end "
        f"{service['burst']['throughput_per_s']}/s, light p50 "
        f"{service['light']['latency_ms'].get('p50')} ms"
    )
    latencies = {
        "light": [t.latency_ms for t in light if t.t_visible],
        "closed": [t.latency_ms for t in closed if t.t_visible],
    }
    return service, latencies, cpu


# --- 4. profiles -----------------------------------------------------------------------------


def _profile_stack(found, work: Path, workloads: list[Workload], options: dict) -> dict:
    """The API, processor and materializer under pyinstrument, each workload in a closed loop;
    then the processor's per-task function in this process."""
    from deploy.processes import ManagedProcess
    from tests.stack import Stack

    out = options["out"] / "profile"
    out.mkdir(parents=True, exist_ok=True)
    sessions = work / "sessions"
    sessions.mkdir(exist_ok=True)

    class ProfiledStack(Stack):
        def _process(self, name: str, module: str) -> ManagedProcess:
            log = self.work_dir / f"{self.prefix}{name}.profiled.log"
            command = [
                sys.executable,
                "-m",
                "tests.perf.profiled",
                str(sessions / f"{name}.pyisession"),
                module,
            ]
            return ManagedProcess(name, command, env=self.env, log_path=log)

    stack = ProfiledStack(found, work, **_env(options))
    say("profiling: a stack under pyinstrument")
    try:
        stack.start(processors=1)
        for workload in workloads:
            tasks = max(8, workload.sizes["closed"] // 2)
            loadgen.run(
                loadgen.closed(
                    stack.url, workload.qasm, tasks, options["shots"], options["inflight"],
                    options["poll_ms"], options["phase_timeout"],
                )
            )  # fmt: skip
    finally:
        stack.stop()
    written: dict[str, str] = {}
    for session in sorted(sessions.glob("*.pyisession")):
        written |= _render(session, out / session.stem)
    for workload in workloads:
        written |= _profile_worker(workload, options["shots"], out / f"worker-{workload.name}")
    return written


def _render(session_path: Path, stem: Path) -> dict[str, str]:
    from pyinstrument.renderers import ConsoleRenderer, HTMLRenderer
    from pyinstrument.session import Session

    try:
        session = Session.load(str(session_path))
    except Exception as exc:
        say(f"[yellow]no profile from {session_path.name}: {exc!r}")
        return {}
    options = {"filter_threshold": 0.002}
    tree = ConsoleRenderer(unicode=True, processor_options=options).render(session)
    flat = ConsoleRenderer(flat=True, processor_options=options).render(session)
    stem.with_suffix(".txt").write_text(tree + "\n\nFLAT (self time)\n\n" + flat)
    stem.with_suffix(".html").write_text(HTMLRenderer().render(session))
    return {stem.name: str(stem.with_suffix(".txt"))}


def _profile_worker(workload: Workload, shots: int, stem: Path) -> dict[str, str]:
    """What one task costs inside a simulator worker: the processor's own function."""
    from pyinstrument import Profiler

    try:
        from processor.simulate import run_program
        from runtime.settings import Settings

        settings = Settings()
        args = (workload.qasm, shots, 1, settings.limits, settings.qc_task_max_memory_mb, 1)
        run_program(*args)
    except Exception as exc:
        say(f"[yellow]processor.simulate.run_program unusable: {exc!r}")
        return {}
    repeat = 5 if workload.name == "rand20" else 100
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for _ in range(repeat):
        run_program(*args)
    session = profiler.stop()
    from pyinstrument.renderers import ConsoleRenderer

    stem.with_suffix(".txt").write_text(
        f"{repeat} calls of processor.simulate.run_program\n\n"
        + ConsoleRenderer(unicode=True, processor_options={"filter_threshold": 0.005}).render(
            session
        )
    )
    return {stem.name: str(stem.with_suffix(".txt"))}


# --- the command -----------------------------------------------------------------------------


def _ratios(data: dict) -> dict[str, float | None]:
    """Service throughput over each baseline's: the burst (saturated end to end) and the
    closed loop."""
    ratios: dict[str, float | None] = {}
    for phase, prefix in (("burst", "service"), ("closed", "closed_loop")):
        value = data.get("service", {}).get(phase, {}).get("throughput_per_s")
        for base in ("naive", "best"):
            ratios[f"{prefix}_vs_{base}"] = round(value / data[base]["per_s"], 4) if value else None
    return ratios


@app.command()
def main(
    workloads: Annotated[str, typer.Option(help="Comma-separated: bell, ghz10, rand20.")] = (
        "bell,ghz10,rand20"
    ),
    scale: Annotated[float, typer.Option(help="Multiplies every phase's task count.")] = 1.0,
    shots: Annotated[int, typer.Option()] = 1024,
    rand_depth: Annotated[int, typer.Option(help="Depth of the 20-qubit random circuit.")] = 3,
    rand_seed: Annotated[int, typer.Option(help="Seed of the 20-qubit random circuit.")] = 1234,
    processors: Annotated[int, typer.Option(help="Processor instances.")] = 1,
    workers: Annotated[int, typer.Option(help="PROCESSOR_WORKERS of each processor.")] = CORES,
    best_workers: Annotated[int, typer.Option(help="Pool size of the best baseline.")] = CORES,
    concurrency: Annotated[int, typer.Option(help="Concurrent clients of the burst.")] = 64,
    inflight: Annotated[int, typer.Option(help="Tasks in flight in the closed loop.")] = 8,
    poll_ms: Annotated[
        float, typer.Option(help="0: long-poll GETs (?wait=); else a GET every POLL_MS.")
    ] = 0.0,
    phase_timeout: Annotated[float, typer.Option(help="Seconds before a phase gives up.")] = 600,
    out: Annotated[Path, typer.Option(help="Where bench.json, .png, .md go.")] = (
        REPO / "tests" / "perf" / "out"
    ),
    profile: Annotated[bool, typer.Option(help="Also profile the stack (pyinstrument).")] = False,
    hostile_phase: Annotated[
        bool, typer.Option("--hostile/--no-hostile", help="Large programs and bombs too.")
    ] = True,
    sweep_phase: Annotated[
        bool, typer.Option("--sweep/--no-sweep", help="A 100-point parameter sweep too.")
    ] = True,
    fairness_phase: Annotated[
        bool,
        typer.Option("--fairness/--no-fairness", help="Two owners: one's flood, the other's wait."),
    ] = True,
    only: Annotated[
        str,
        typer.Option(help=f"Run only these phases (comma-separated, of {', '.join(PHASES)})."),
    ] = "",
    keep_work: Annotated[bool, typer.Option(help="Keep broker data and service logs.")] = False,
    smoke: Annotated[
        bool, typer.Option(help="A handful of tasks, a shallow random circuit: seconds.")
    ] = False,
) -> None:
    """Benchmark the service against in-process baselines; see the module's docstring."""
    chosen = {p.strip() for p in only.split(",") if p.strip()} or set(PHASES)
    if chosen - set(PHASES):
        raise typer.BadParameter(
            f"unknown phase(s) {sorted(chosen - set(PHASES))}", param_hint="--only"
        )
    switched = {"hostile": hostile_phase, "sweep": sweep_phase, "fairness": fairness_phase}
    phases = [p for p in PHASES if p in chosen and switched.get(p, True)]
    if smoke:
        scale, rand_depth = min(scale, 0.001), min(rand_depth, 1)
        concurrency, inflight = min(concurrency, 8), min(inflight, 4)
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    began, clock = datetime.now(UTC), time.perf_counter()
    selected = build_workloads(
        [w.strip() for w in workloads.split(",") if w.strip()], scale, rand_depth, rand_seed
    ) if "workloads" in phases else []  # fmt: skip
    options = {
        "shots": shots, "processors": processors, "workers": workers, "concurrency": concurrency,
        "inflight": inflight, "poll_ms": poll_ms,
        "phase_timeout": phase_timeout, "profile": profile, "out": out, "smoke": smoke,
    }  # fmt: skip
    results: dict = {
        "meta": {
            "started_at": began.isoformat(),
            "host": platform.node(),
            "cores": CORES,
            "cpu_model": _cpu_model(),
            "memory_gib": round(
                os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1
            ),
            "load_average_at_start": os.getloadavg(),
            "python": platform.python_version(),
            "qiskit": _version("qiskit"),
            "qiskit_aer": _version("qiskit-aer"),
            "commit": _commit(),
            "shots": shots,
            "options": {k: str(v) if isinstance(v, Path) else v for k, v in options.items()},
            "scale": scale,
            "rand_depth": rand_depth,
            "rand_seed": rand_seed,
            "best_workers": best_workers,
            "phases": phases,
        },
    }
    monitor = Monitor(interval_s=0.5)
    monitor.watch(BENCH, os.getpid())
    monitor.start()
    work = Path(tempfile.mkdtemp(prefix="qcexec-bench-"))
    home = Path.cwd()
    latencies: dict = {}
    profiles: dict = {}
    try:
        say(f"{CORES} cores; phases: {', '.join(phases)}")
        if selected:
            say("in-process baselines first (nothing else of ours runs)")
        results["workloads"] = run_baselines(selected, shots, best_workers)
        if "hostile" in phases:
            say("hostile programs: the front end's own reading time, in this process")
            results["hostile"] = {"in_process_ms": hostile.in_process(1 if smoke else 3)}
            options["hostile"] = results["hostile"]  # the service's figures join them
        if "sweep" in phases:
            say("sweep: the naive loop and one Aer call with every binding, in this process")
            options["sweep"] = {"in_process": sweep.in_process(1 if smoke else 3)}
        if "fairness" in phases:
            results["fairness"] = options["fairness"] = {}  # run_service fills it
        if "estimate" in phases:
            say("estimate: the dry run's run-time model fitted on this machine, in this process")
            machine = f"{_cpu_model()}, {CORES} cores, commit {_commit()}"
            results["estimate"] = calibrate.calibrate(
                out / "calibration.json", machine, repeat=1 if smoke else 3
            )
        # Faust writes its data directory into the working directory: keep it in `work`.
        os.chdir(work)
        latencies, profiles = run_service(selected, results["workloads"], monitor, work, options)
    finally:
        os.chdir(home)
        monitor.stop()
        if keep_work:
            say(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if profiles:
        results["profiles"] = profiles
    for data in results["workloads"].values():
        data["ratios"] = _ratios(data)
        naive_counts = data["naive"].pop("counts_seed0", None)
        first = data.get("service", {}).get("light", {}).pop("first_result", None)
        data["service_counts_equal_naive_seed0"] = (
            None if first is None or naive_counts is None else first == naive_counts
        )
    found = options.get("sweep") or {}
    if "service" in found:
        results["sweep"] = sweep.summary(found["in_process"], found["service"])
    results["memory"] = monitor.peaks()
    results["targets"] = report.check_targets(results)
    if results.get("fairness"):
        results["fairness"]["targets"] = fairness.targets(results["fairness"])
        results["targets"] += results["fairness"]["targets"]
    results["meta"]["duration_s"] = round(time.perf_counter() - clock, 1)

    report.write_json(results, out / "bench.json")
    if results["workloads"]:
        report.chart(results, latencies, out / "bench.png")
    table = report.markdown(results)
    if "hostile" in results:
        table += "\n\n" + hostile.markdown(results["hostile"])
    if "sweep" in results:
        table += "\n\n" + sweep.markdown(results["sweep"])
    if results.get("fairness"):
        table += "\n\n" + fairness.markdown(results["fairness"])
    if "estimate" in results:
        table += "\n\n" + calibrate.markdown(results["estimate"])
    (out / "bench.md").write_text(table + "\n")
    report.print_tables(results, console)
    if results.get("fairness"):
        fairness.print_table(results["fairness"], console)
    console.print()
    console.print(table, markup=False)
    console.print()
    written = ", ".join(str(out / f"bench.{x}") for x in ("json", "png", "md")
                        if x != "png" or results["workloads"])  # fmt: skip
    say(f"wrote {written} in {results['meta']['duration_s']} s")


if __name__ == "__main__":
    app()
