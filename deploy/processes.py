"""Child processes supervised without Docker, for `make up` (deploy/stack.py) and the tests.

Every child runs in its own session, i.e. its own process group, so that stopping it also ends
whatever it spawned, and a Ctrl-C in the terminal reaches only the supervisor, which then stops
the children in order. Every child still running when the interpreter exits is stopped then.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

LOCALHOST = "127.0.0.1"

_output_lock = threading.Lock()
#: Started and not yet collected, in start order (a dict is an ordered set).
_live: dict[ManagedProcess, None] = {}


def free_port(host: str = LOCALHOST) -> int:
    """A TCP port that was free a moment ago (another process may still take it first)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class ManagedProcess:
    """A child process in its own session.

    Its output is appended to `log_path`, or without one, streamed line by line to our stdout
    with a ``[name]`` prefix.
    """

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.name = name
        self.command = list(command)
        self.env = dict(env) if env is not None else None
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None
        self._pump: threading.Thread | None = None
        self._paused = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} pid={self.pid}>"

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    @property
    def returncode(self) -> int | None:
        """The exit status once the child has exited; None while it runs or before start."""
        return None if self._proc is None else self._proc.poll()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def paused(self) -> bool:
        """Stopped by :meth:`pause` and not resumed yet."""
        return self._paused and self.running

    def start(self) -> None:
        if self.running:
            raise RuntimeError(f"{self.name} is already running")
        self._reap()
        self._paused = False
        self._prepare()
        popen = {"env": self.env, "stdin": subprocess.DEVNULL, "start_new_session": True}
        if self.log_path is None:
            self._proc = subprocess.Popen(
                self.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **popen
            )
            self._pump = threading.Thread(
                target=_pump_lines,
                args=(self.name, self._proc.stdout),
                name=f"output-{self.name}",
                daemon=True,
            )
            self._pump.start()
        else:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.log_path, "ab") as log:
                self._proc = subprocess.Popen(
                    self.command, stdout=log, stderr=subprocess.STDOUT, **popen
                )
        _live[self] = None

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the child to exit by itself; returns its exit status."""
        if self._proc is None:
            raise RuntimeError(f"{self.name} was never started")
        code = self._proc.wait(timeout)
        self._reap()
        return code

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Block until the service answers; raises if the child exits or the time runs out."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.running:
                raise RuntimeError(
                    f"{self.name} exited ({self.returncode}) before it was ready{self._log_tail()}"
                )
            try:
                self._probe()
                return
            except Exception as exc:  # any failure of the probe means "not ready yet"
                if time.monotonic() >= deadline:
                    raise TimeoutError(
                        f"{self.name} not ready after {timeout:.0f}s (last probe: {exc!r})"
                        f"{self._log_tail()}"
                    ) from exc
            time.sleep(0.2)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM to the child, then SIGKILL to its whole group once it has exited or after
        `timeout` seconds; returns its exit status (None if it was never started)."""
        proc = self._proc
        if proc is None:
            return None
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            if self._paused:  # a stopped process handles SIGTERM once it runs again
                self.resume()
            deadline = time.monotonic() + timeout
            # Wait without reaping: until the child is reaped its pid cannot be reused, so the
            # group kill in _reap() cannot hit anyone else's processes.
            while time.monotonic() < deadline and not _exited(proc.pid):
                time.sleep(0.05)
        self._reap()
        return proc.returncode

    def kill(self) -> None:
        """SIGKILL to the whole group: a crash, for fault tests."""
        self._reap()

    def pause(self) -> None:
        """SIGSTOP to the whole group: a process frozen (a long GC pause, a stalled VM, a
        suspended container) that holds its sockets open and answers nothing, for fault tests."""
        self._signal_group(signal.SIGSTOP)
        self._paused = True

    def resume(self) -> None:
        """SIGCONT to the whole group: it goes on where :meth:`pause` froze it."""
        self._signal_group(signal.SIGCONT)
        self._paused = False

    def _signal_group(self, signum: signal.Signals) -> None:
        if not self.running or self._proc is None:
            raise RuntimeError(f"{self.name} is not running")
        os.killpg(self._proc.pid, signum)

    def restart(self, timeout: float = 30.0) -> None:
        """Stop, then start again with the same command, ports and data."""
        self.stop(timeout)
        self.start()

    def _prepare(self) -> None:
        """Run before every start (write configuration, initialise storage)."""

    def _probe(self) -> None:
        """Raise unless the service answers requests."""

    def _reap(self) -> None:
        """Kill whatever is left of the group, then collect the child and its output."""
        proc = self._proc
        if proc is None or self not in _live:
            return
        # Also when the child has already exited by itself: what it spawned may still run.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        self._paused = False
        if self._pump is not None:
            self._pump.join(timeout=5)
            self._pump = None
        del _live[self]

    def _log_tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        tail = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        return f"\n--- last lines of {self.log_path}:\n" + "\n".join(tail)


def _exited(pid: int) -> bool:
    """Whether the child has exited, leaving it unreaped (a zombie still holds its pid)."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:  # already reaped
        return True


def _pump_lines(name: str, stream: IO[bytes]) -> None:
    prefix = f"[{name}] "
    with stream:
        for raw in stream:
            line = raw.decode(errors="replace").rstrip("\n")
            with _output_lock:
                sys.stdout.write(prefix + line + "\n")
                sys.stdout.flush()


@atexit.register
def _stop_all() -> None:
    for process in reversed(list(_live)):
        process.stop(timeout=10)
