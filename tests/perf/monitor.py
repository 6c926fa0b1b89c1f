"""Memory and CPU of every process of the run, sampled by a background thread with psutil.

A role is a root process and its descendants (the processor's forkserver and simulator
workers, for one). A process belongs to the first role whose tree holds it, so the benchmark
itself (registered last) does not count the service processes it started. Peak memory is the
kernel's high-water mark of each process's resident set (``VmHWM``), which no sampling
interval can miss, next to the largest proportional set size sampled (``PSS``: shared pages
split between the processes sharing them, so that a role's processes add up honestly).

PSS is read every ``pss_every`` samples only: the kernel builds it by walking every mapping
of the process (about 0.5 ms of CPU for one Qiskit process, more for the broker's JVM), and
at every sample that would take several percent of a core from the service being measured.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import psutil

MB = 1024 * 1024
#: The role of the benchmark's own process (the load generator, the in-process baselines).
BENCH = "bench"


@dataclass
class _Seen:
    role: str
    label: str
    cpu_s: float = 0.0
    hwm: int = 0
    rss: int = 0
    pss: int = 0


@dataclass
class _Role:
    name: str
    pid: int
    peak_pss_total: int = 0


def _high_water_mark(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _command(process: psutil.Process | None) -> str:
    try:
        return " ".join(process.cmdline()) if process is not None else ""
    except psutil.Error:
        return ""


def _kind(process: psutil.Process) -> str:
    """What a child process is: a multiprocessing forkserver, its resource tracker, or a
    worker (a child forked by a forkserver carries the forkserver's command line)."""
    command = _command(process)
    if "resource_tracker" in command:
        return "resource_tracker"
    if "forkserver" in command:
        try:
            parent = process.parent()
        except psutil.Error:
            parent = None
        return "worker" if "forkserver" in _command(parent) else "forkserver"
    return "worker"


class Monitor:
    def __init__(self, interval_s: float = 0.25, pss_every: int = 8) -> None:
        self.interval_s = interval_s
        self.pss_every = pss_every
        self._samples = 0
        self._roles: list[_Role] = []
        self._seen: dict[int, _Seen] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, name: str, pid: int | None) -> None:
        """Follow a process (and its descendants); the first role to claim a process keeps it."""
        if pid is None:
            return
        with self._lock:
            self._roles = [r for r in self._roles if r.name != name]
            self._roles.append(_Role(name, pid))
            # The benchmark's own process claims what is left, so it goes last.
            self._roles.sort(key=lambda r: r.name == BENCH)

    def start(self) -> Monitor:
        self._thread = threading.Thread(target=self._run, name="monitor", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.sample()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def sample(self) -> None:
        with self._lock:
            with_pss = self._samples % self.pss_every == 0
            self._samples += 1
            claimed: set[int] = set()
            for role in self._roles:
                try:
                    root = psutil.Process(role.pid)
                    tree = [root, *root.children(recursive=True)]
                except psutil.Error:
                    continue
                pss_total = 0
                for process in tree:
                    if process.pid in claimed:
                        continue
                    claimed.add(process.pid)
                    pss_total += self._sample_one(role, process, process is root, with_pss)
                role.peak_pss_total = max(role.peak_pss_total, pss_total)

    def _sample_one(
        self, role: _Role, process: psutil.Process, is_root: bool, with_pss: bool
    ) -> int:
        """Record the process's CPU time and memory; returns its PSS (0 when not read)."""
        pid = process.pid
        seen = self._seen.get(pid)
        if seen is None or seen.role != role.name:
            label = role.name if is_root else f"{role.name}/{_kind(process)}"
            seen = self._seen[pid] = _Seen(role.name, label)
        try:
            with process.oneshot():
                times = process.cpu_times()
                memory = process.memory_full_info() if with_pss else process.memory_info()
        except psutil.Error:
            return 0
        seen.cpu_s = times.user + times.system
        seen.rss = max(seen.rss, memory.rss)
        seen.hwm = max(seen.hwm, _high_water_mark(pid), seen.rss)
        if not with_pss:
            return 0
        pss = getattr(memory, "pss", memory.rss)
        seen.pss = max(seen.pss, pss)
        return pss

    def cpu(self) -> dict[int, float]:
        """CPU seconds of every process seen so far (a fresh sample first)."""
        self.sample()
        with self._lock:
            return {pid: seen.cpu_s for pid, seen in self._seen.items()}

    def cpu_since(self, before: dict[int, float]) -> dict[str, float]:
        """CPU seconds per process label (a role, or a kind of child in it: all the workers
        of a processor together) since ``before`` (from :meth:`cpu`)."""
        now = self.cpu()
        spent: dict[str, float] = {}
        with self._lock:
            for pid, cpu_s in now.items():
                label = self._seen[pid].label
                spent[label] = spent.get(label, 0.0) + cpu_s - before.get(pid, 0.0)
        return {label: cpu_s for label, cpu_s in spent.items() if cpu_s > 0}

    def peaks(self) -> dict:
        """Per process (label and pid) and per role, in MB."""
        with self._lock:
            processes = [
                {
                    "label": seen.label,
                    "pid": pid,
                    "peak_rss_mb": round(seen.hwm / MB, 1),
                    "peak_pss_mb": round(seen.pss / MB, 1),
                }
                for pid, seen in sorted(self._seen.items(), key=lambda kv: kv[1].label)
            ]
            roles = {r.name: round(r.peak_pss_total / MB, 1) for r in self._roles}
        return {"processes": processes, "role_peak_pss_mb": roles}
