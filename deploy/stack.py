"""`make up`: the whole service on this machine, in the foreground, without Docker.

Starts Kafka and Redis (data under STACK_DIR, output in their log files there), creates the
topics, then runs the API, the processor(s) and the materializer with their output prefixed by
name. Like a container orchestrator, it restarts any child that exits (with a growing delay);
SIGINT or SIGTERM stops the applications first, then Kafka and Redis.

    python -m deploy.stack    # KAFKA_PORT, KAFKA_CONTROLLER_PORT, REDIS_PORT, API_PORT, STACK_DIR,
                              # STACK_BROKERS, STACK_PROCESSORS

STACK_BROKERS (1 by default) is how many Kafka nodes run: one is a single broker (data in
STACK_DIR/kafka); more are a KRaft cluster (deploy.broker.KafkaCluster, data in
STACK_DIR/kafka-<n>) whose node i (from 0) listens on KAFKA_PORT + 2i, its controller on
KAFKA_CONTROLLER_PORT + 2i, and the topics get min(STACK_BROKERS, 3) replicas
(QC_TOPIC_REPLICATION; from 3, min.insync.replicas 2: runtime.topics). STACK_PROCESSORS (1 by
default) processors share the partitions of qc.submitted.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import NoReturn

from rich.console import Console
from rich.text import Text
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_result,
    stop_after_attempt,
    wait_exponential_jitter,
)

from deploy.broker import KafkaBroker, KafkaCluster, ensure_kafka_jars
from deploy.processes import LOCALHOST, ManagedProcess
from deploy.redis_server import RedisServer, ensure_redis_server

TOPICS_ATTEMPTS = 5
#: A child that ran this long before exiting restarts at once again (its delay is reset).
STABLE_AFTER_S = 60.0
MAX_BACKOFF_S = 30.0
POLL_INTERVAL_S = 0.5

console = Console(highlight=False, soft_wrap=True)


def say(message: str, style: str = "") -> None:
    console.print(Text.assemble(("[stack] ", "bold cyan"), (message, style)))


@dataclass(frozen=True)
class StackConfig:
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    redis_port: int = 6379
    api_port: int = 8000
    stack_dir: Path = Path(".stack")
    #: Kafka nodes: 1, a single broker; more, a KRaft cluster on this machine.
    brokers: int = 1
    processors: int = 1

    def __post_init__(self) -> None:
        if self.brokers < 1 or self.processors < 1:
            raise ValueError("STACK_BROKERS and STACK_PROCESSORS must be 1 or more")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> StackConfig:
        default = cls()
        return cls(
            kafka_port=int(environ.get("KAFKA_PORT", default.kafka_port)),
            kafka_controller_port=int(
                environ.get("KAFKA_CONTROLLER_PORT", default.kafka_controller_port)
            ),
            redis_port=int(environ.get("REDIS_PORT", default.redis_port)),
            api_port=int(environ.get("API_PORT", default.api_port)),
            stack_dir=Path(environ.get("STACK_DIR", default.stack_dir)).resolve(),
            brokers=int(environ.get("STACK_BROKERS", default.brokers)),
            processors=int(environ.get("STACK_PROCESSORS", default.processors)),
        )

    @property
    def kafka_ports(self) -> list[tuple[int, int]]:
        """Each Kafka node's (broker, controller) ports: node i on KAFKA_PORT + 2i and
        KAFKA_CONTROLLER_PORT + 2i (the defaults: 9092 and 9093, 9094 and 9095, ...)."""
        return [
            (self.kafka_port + 2 * i, self.kafka_controller_port + 2 * i)
            for i in range(self.brokers)
        ]

    @property
    def kafka_bootstrap(self) -> str:
        return ",".join(f"{LOCALHOST}:{port}" for port, _ in self.kafka_ports)

    @property
    def replication(self) -> int:
        """The topics' replicas: every broker, up to three."""
        return min(self.brokers, 3)


def app_env(config: StackConfig, base: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The inherited environment plus where the applications find Kafka, Redis and their port,
    and the replicas of the topics they create."""
    return {
        **base,
        "KAFKA_BOOTSTRAP_SERVERS": config.kafka_bootstrap,
        "QC_TOPIC_REPLICATION": str(config.replication),
        "REDIS_HOST": LOCALHOST,
        "REDIS_PORT": str(config.redis_port),
        "API_PORT": str(config.api_port),
        "PYTHONUNBUFFERED": "1",  # so that their lines reach us as they are written
        # Read by people in this terminal; LOG_FORMAT=json make up for JSON lines.
        "LOG_FORMAT": base.get("LOG_FORMAT", "text"),
    }


def topics_command(python: str = sys.executable) -> list[str]:
    return [python, "-m", "ops", "topics", "create"]


def app_commands(python: str = sys.executable) -> dict[str, list[str]]:
    """The application processes, by name, in start order."""
    return {
        "api": [python, "-m", "api"],
        "processor": [python, "-m", "processor"],
        "materializer": [python, "-m", "materializer"],
    }


class _Stop(BaseException):
    """Raised in the main thread by SIGINT, SIGTERM or SIGHUP. A BaseException, like
    KeyboardInterrupt, so that no ``except Exception`` (readiness probes) swallows it."""


def _raise_stop(signum: int, _frame: FrameType | None) -> None:
    raise _Stop(signal.Signals(signum).name)


@dataclass
class _Child:
    process: ManagedProcess
    started_at: float
    failures: int = 0
    restart_at: float | None = None


class Stack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        libs = ensure_kafka_jars()
        self.brokers: list[KafkaBroker]
        if config.brokers == 1:
            self.brokers = [
                KafkaBroker(
                    config.stack_dir / "kafka",
                    config.kafka_port,
                    config.kafka_controller_port,
                    libs=libs,
                )
            ]
        else:
            cluster = KafkaCluster(
                config.stack_dir / f"kafka-{config.brokers}",
                config.brokers,
                ports=config.kafka_ports,
                libs=libs,
            )
            self.brokers = cluster.nodes
        self.redis = RedisServer(
            config.stack_dir / "redis", config.redis_port, executable=ensure_redis_server()
        )
        env = app_env(config)
        self.apps = []
        for name, command in app_commands().items():
            copies = config.processors if name == "processor" else 1
            for i in range(1, copies + 1):
                named = name if copies == 1 else f"{name}-{i}"
                self.apps.append(ManagedProcess(named, command, env=env))
        self._children: list[_Child] = []

    def run(self) -> NoReturn:
        """Start everything, then supervise until a signal raises _Stop."""
        self._check_ports_free()
        # Every Kafka node first: in a cluster none is ready before a majority of them runs.
        for service in [*self.brokers, self.redis]:
            self._start(service)
        for service, timeout in [*((b, 120.0) for b in self.brokers), (self.redis, 30.0)]:
            service.wait_ready(timeout)
            say(f"{service.name} ready (log: {service.log_path})")
        self._create_topics()
        for app in self.apps:
            self._start(app)
        say(
            f"up: API http://{LOCALHOST}:{self.config.api_port}, Kafka "
            f"{self.config.kafka_bootstrap}, Redis {self.redis.url}; Ctrl-C stops",
            "bold green",
        )
        while True:
            self._supervise(time.monotonic())
            time.sleep(POLL_INTERVAL_S)

    def shutdown(self) -> None:
        """Stop the applications (together), then Kafka and Redis."""
        for group, timeout in ((self.apps, 20.0), ([*self.brokers, self.redis], 60.0)):
            running = [p for p in group if p.running]
            if running:
                say("stopping " + ", ".join(p.name for p in running))
            with ThreadPoolExecutor(max_workers=len(group)) as pool:
                list(pool.map(ManagedProcess.stop, group, [timeout] * len(group)))
        say("stopped")

    def _check_ports_free(self) -> None:
        ports = [
            *(("KAFKA_PORT", port) for port, _ in self.config.kafka_ports),
            *(("KAFKA_CONTROLLER_PORT", port) for _, port in self.config.kafka_ports),
            ("REDIS_PORT", self.config.redis_port),
            ("API_PORT", self.config.api_port),
        ]
        for variable, port in ports:
            with socket.socket() as sock:
                # As servers do: a port left in TIME_WAIT by the last run is free.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind((LOCALHOST, port))
                except OSError as exc:
                    raise RuntimeError(
                        f"port {port} is in use ({exc.strerror}); set {variable} to another port"
                    ) from exc

    def _start(self, process: ManagedProcess) -> None:
        process.start()
        self._children.append(_Child(process, time.monotonic()))

    def _create_topics(self) -> None:
        topics = ManagedProcess("topics", topics_command(), env=app_env(self.config))

        def create() -> int:
            topics.start()
            return topics.wait()

        def failed(state: RetryCallState) -> None:
            code = state.outcome.result() if state.outcome else None
            say(
                f"creating the topics failed (exit code {code}), attempt {state.attempt_number}",
                "yellow",
            )

        code = Retrying(
            retry=retry_if_result(lambda code: code != 0),
            wait=wait_exponential_jitter(multiplier=1, max=8),
            stop=stop_after_attempt(TOPICS_ATTEMPTS),
            before_sleep=failed,
            retry_error_callback=lambda state: state.outcome.result() if state.outcome else 1,
        )(create)
        if code != 0:
            raise RuntimeError(f"could not create the topics in {TOPICS_ATTEMPTS} attempts")

    def _supervise(self, now: float) -> None:
        for child in self._children:
            process = child.process
            if child.restart_at is None:
                code = process.returncode
                if code is None:
                    continue
                if now - child.started_at >= STABLE_AFTER_S:
                    child.failures = 0
                delay = min(MAX_BACKOFF_S, 2.0**child.failures)
                child.failures += 1
                child.restart_at = now + delay
                say(
                    f"{process.name} exited unexpectedly ({_describe_exit(code)}); "
                    f"restarting in {delay:.0f}s",
                    "bold red",
                )
            elif now >= child.restart_at:
                say(f"restarting {process.name}", "yellow")
                process.restart()
                child.started_at = now
                child.restart_at = None


def _describe_exit(code: int) -> str:
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


def main() -> int:
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_stop)
    stack: Stack | None = None
    try:
        say("preparing: Kafka jars (resolved by Maven on the first run) and redis-server")
        stack = Stack(StackConfig.from_env())
        stack.run()
    except _Stop as stop:
        say(f"{stop} received")
        return 0
    except (RuntimeError, TimeoutError) as exc:
        say(f"failed: {exc}", "bold red")
        return 1
    finally:
        # A second Ctrl-C must not interrupt the shutdown half way and leave children behind.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        if stack is not None:
            stack.shutdown()


if __name__ == "__main__":
    sys.exit(main())
