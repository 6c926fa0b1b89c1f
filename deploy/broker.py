"""A single-node Apache Kafka broker (KRaft) as a child process, from its jars (resolved by
Maven into .cache/ on first use), for `make up` and the tests."""

from __future__ import annotations

import asyncio
import fcntl
import re
import shutil
import socket
import subprocess
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from deploy.processes import LOCALHOST, ManagedProcess, free_port

DEPLOY_DIR = Path(__file__).resolve().parent
REPO_DIR = DEPLOY_DIR.parent
DEFAULT_CACHE_DIR = REPO_DIR / ".cache"
#: Must match the version in deploy/kafka/pom.xml (it names the cache folder).
KAFKA_VERSION = "3.9.1"

# Measured on 2 cores: with the serial collector and C1-only compilation the broker is ready
# 1.4 s after start instead of 1.8-2.3 s, and spends half the CPU time on a short produce burst
# (no C2 compilations); a local broker needs neither C2's peak throughput nor G1's pause goals.
_JVM_FLAGS = [
    "-Xms256m", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
    "-Djava.awt.headless=true",
]  # fmt: skip
_LOG4J_FLAG = f"-Dlog4j.configuration=file:{DEPLOY_DIR / 'kafka' / 'log4j.properties'}"


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
