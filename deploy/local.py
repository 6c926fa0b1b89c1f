"""Real services as child processes, without Docker: a single-node Apache Kafka broker (KRaft)
and a Redis server, for `make up` (deploy/stack.py) and the integration tests.

Every child runs in its own session, i.e. its own process group, so that stopping it also ends
whatever it spawned, and a Ctrl-C in the terminal reaches only the supervisor, which then stops
the children in order. Every child still running when the interpreter exits is stopped then.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import fcntl
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

import redis
from aiokafka.admin import AIOKafkaAdminClient

DEPLOY_DIR = Path(__file__).resolve().parent
REPO_DIR = DEPLOY_DIR.parent
DEFAULT_CACHE_DIR = REPO_DIR / ".cache"
#: Must match the version in deploy/kafka/pom.xml (it names the cache folder).
KAFKA_VERSION = "3.9.1"
LOCALHOST = "127.0.0.1"

# Measured on 2 cores: with the serial collector and C1-only compilation the broker is ready
# 1.4 s after start instead of 1.8-2.3 s, and spends half the CPU time on a short produce burst
# (no C2 compilations); a local broker needs neither C2's peak throughput nor G1's pause goals.
_JVM_FLAGS = [
    "-Xms256m", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
    "-Djava.awt.headless=true",
]  # fmt: skip
_LOG4J_FLAG = f"-Dlog4j.configuration=file:{DEPLOY_DIR / 'kafka' / 'log4j.properties'}"

_output_lock = threading.Lock()
#: Started and not yet collected, in start order (a dict is an ordered set).
_live: dict[ManagedProcess, None] = {}


def free_port(host: str = LOCALHOST) -> int:
    """A TCP port that was free a moment ago (another process may still take it first)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def ensure_kafka_jars(cache_dir: Path = DEFAULT_CACHE_DIR) -> Path:
    """The folder of the broker's jars, resolved by Maven on first use; returns it."""
    base = cache_dir / f"kafka-{KAFKA_VERSION}"
    libs = base / "libs"
    marker = base / "complete"
    if marker.exists():
        return libs
    if shutil.which("mvn") is None:
        raise RuntimeError("mvn not found: install Maven and a JDK 17 (apt-get install maven)")
    base.mkdir(parents=True, exist_ok=True)
    # A lock, so that `make up` and a test run started together resolve the jars only once.
    with open(base / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not marker.exists():
            command = [
                "mvn", "-q", "-B", "-f", str(DEPLOY_DIR / "kafka" / "pom.xml"),
                "dependency:copy-dependencies", f"-DoutputDirectory={libs}",
            ]  # fmt: skip
            result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode != 0:
                raise RuntimeError(
                    f"resolving the Kafka jars failed ({' '.join(command)}):\n"
                    f"{result.stdout}{result.stderr}"
                )
            marker.write_text(f"{KAFKA_VERSION}\n")
    return libs


def ensure_redis_server() -> str:
    """The path of `redis-server`, installed with apt when running as root on Debian."""
    path = shutil.which("redis-server")
    if path is None and os.geteuid() == 0 and Path("/etc/debian_version").exists():
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "redis-server"], check=True, env=env)
        path = shutil.which("redis-server")
    if path is None:
        raise RuntimeError(
            "redis-server not found: install it (Debian/Ubuntu: sudo apt-get install -y "
            "redis-server; macOS: brew install redis)"
        )
    return path


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

    def start(self) -> None:
        if self.running:
            raise RuntimeError(f"{self.name} is already running")
        self._reap()
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
        if self._pump is not None:
            self._pump.join(timeout=5)
            self._pump = None
        del _live[self]

    def _log_tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        tail = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        return f"\n--- last lines of {self.log_path}:\n" + "\n".join(tail)


class KafkaBroker(ManagedProcess):
    """A single-node Kafka broker in KRaft mode (broker and controller in one process).

    `data_dir` holds server.properties, broker.log and the log directory `data/`; the storage
    is formatted on the first start only, so a restart keeps every topic and record.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        controller_port: int | None = None,
        *,
        host: str = LOCALHOST,
        libs: Path | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.host = host
        self.port = port or free_port(host)
        self.controller_port = controller_port or free_port(host)
        self.libs = libs or ensure_kafka_jars()
        java = shutil.which("java")
        if java is None:
            raise RuntimeError("java not found: install a JDK 17 (apt-get install openjdk-17-jdk)")
        self.config_path = self.data_dir / "server.properties"
        self._java = [java, *_JVM_FLAGS, _LOG4J_FLAG, "-cp", f"{self.libs}/*"]
        super().__init__(
            "kafka",
            [*self._java, "kafka.Kafka", str(self.config_path)],
            log_path=self.data_dir / "broker.log",
        )

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def _prepare(self) -> None:
        log_dir = self.data_dir / "data"
        log_dir.mkdir(parents=True, exist_ok=True)
        controller = f"{self.host}:{self.controller_port}"
        settings = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{controller}",
            "listeners": f"PLAINTEXT://{self.bootstrap},CONTROLLER://{controller}",
            "advertised.listeners": f"PLAINTEXT://{self.bootstrap}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(log_dir),
            "num.partitions": "1",
            "auto.create.topics.enable": "false",
            "offsets.topic.replication.factor": "1",
            # One partition instead of 50: the first consumer group is ready sooner.
            "offsets.topic.num.partitions": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "log.cleaner.enable": "true",
            # After a SIGKILL the controller rejects the broker's new registration until the old
            # session expires (default 9 s, so about 14 s to ready); 4 s still tolerates pauses.
            "broker.heartbeat.interval.ms": "1000",
            "broker.session.timeout.ms": "4000",
            # The controller appends a no-op record to the metadata log this often (default
            # 500 ms); every 5 s takes the idle broker from 29-40 to 19-27 ms of CPU a second.
            "metadata.max.idle.interval.ms": "5000",
        }
        self.config_path.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
        if not (log_dir / "meta.properties").exists():
            # The tool logs to stdout too (our log4j configuration): the id is the last line.
            cluster_id = self._storage_tool("random-uuid").split()[-1]
            if not re.fullmatch(r"[A-Za-z0-9_-]{22}", cluster_id):
                raise RuntimeError(f"kafka StorageTool random-uuid printed no id: {cluster_id!r}")
            self._storage_tool("format", "-t", cluster_id, "-c", str(self.config_path))

    def _storage_tool(self, *args: str) -> str:
        result = subprocess.run(
            [*self._java, "kafka.tools.StorageTool", *args], capture_output=True, text=True
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"kafka StorageTool {args[0]} failed:\n{result.stdout}{result.stderr}"
            )
        return result.stdout

    def _probe(self) -> None:
        # A bare TCP check first, so that the admin client does not log connection errors.
        with socket.create_connection((self.host, self.port), timeout=1):
            pass
        # Call from synchronous code only (asyncio.run refuses to nest in a running loop).
        asyncio.run(_check_broker_registered(self.bootstrap))


async def _check_broker_registered(bootstrap: str) -> None:
    """Raise unless the broker answers a metadata request listing itself.

    A KRaft broker lists only unfenced brokers, and topic creation fails until there is one,
    so an open port or an answered ApiVersions request is not enough.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
    finally:
        await admin.close()
    if not cluster["brokers"]:
        raise RuntimeError("no unfenced broker in the metadata yet")


class RedisServer(ManagedProcess):
    """A Redis server bound to `host`, with an append-only file in `data_dir` (so a restart
    keeps the data) and no RDB snapshots."""

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        *,
        host: str = LOCALHOST,
        executable: str | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.host = host
        self.port = port or free_port(host)
        super().__init__(
            "redis",
            [
                executable or ensure_redis_server(),
                "--port", str(self.port),
                "--bind", host,
                "--dir", str(self.data_dir),
                "--save", "",
                "--appendonly", "yes",
                "--daemonize", "no",
            ],
            log_path=self.data_dir / "redis.log",
        )  # fmt: skip

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}"

    def _prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def _probe(self) -> None:
        # PING fails with a LOADING error while the append-only file is replayed.
        with redis.Redis(self.host, self.port, socket_timeout=1, socket_connect_timeout=1) as r:
            r.ping()


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
