"""Apache Kafka (KRaft) as child processes, from its jars (resolved by Maven into .cache/ on first
use), for `make up` and the tests: a single-node broker (:class:`KafkaBroker`), or a cluster of
several nodes on this machine (:class:`KafkaCluster`)."""

from __future__ import annotations

import asyncio
import base64
import fcntl
import re
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
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
_JVM_FLAGS = ["-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true"]
#: A single broker's heap (initial, maximum).
SINGLE_HEAP = ("256m", "512m")
#: Each node's heap in a cluster: three of them share 2 cores and a few GB with everything else.
CLUSTER_HEAP = ("128m", "384m")
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


def storage_tool(java: Sequence[str], *args: str) -> str:
    """Run Kafka's StorageTool (``kafka-storage``) with the broker's JVM command; its output."""
    result = subprocess.run(
        [*java, "kafka.tools.StorageTool", *args], capture_output=True, text=True
    )
    if result.returncode != 0:
        raise RuntimeError(f"kafka StorageTool {args[0]} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def tuning(internal_replication: int) -> dict[str, str]:
    """The settings every local node takes, whatever its listeners: topics only as the
    project creates them, the broker's own topics replicated ``internal_replication`` times,
    and the timings that make a local node quick to start, to rejoin and cheap when idle."""
    replication = str(internal_replication)
    return {
        "num.partitions": "1",
        "auto.create.topics.enable": "false",
        "offsets.topic.replication.factor": replication,
        # One partition instead of 50: the first consumer group is ready sooner (and in a
        # cluster, one node is every group's coordinator).
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": replication,
        "transaction.state.log.min.isr": str(min(2, internal_replication)),
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


def new_cluster_id() -> str:
    """A KRaft cluster id, as ``kafka-storage random-uuid`` prints it (a random UUID in URL-safe
    base64 without padding, never starting with '-'), without starting a JVM for it."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


class KafkaBroker(ManagedProcess):
    """A Kafka node in KRaft mode, broker and controller in one process: on its own, a
    single-node broker (the defaults); with ``voters``, one node of a :class:`KafkaCluster`.

    `data_dir` holds server.properties, broker.log and the log directory `data/`; the storage
    is formatted on the first start only (with ``cluster_id``, or a new one), so a restart
    keeps every topic and record.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        controller_port: int | None = None,
        *,
        host: str = LOCALHOST,
        libs: Path | None = None,
        node_id: int = 1,
        voters: str | None = None,
        cluster_id: str | None = None,
        internal_replication: int = 1,
        heap: tuple[str, str] = SINGLE_HEAP,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.host = host
        self.port = port or free_port(host)
        self.controller_port = controller_port or free_port(host)
        self.libs = libs or ensure_kafka_jars()
        self.node_id = node_id
        #: controller.quorum.voters: ``id@host:port`` of every controller; this node alone if None.
        self.voters = voters or f"{node_id}@{host}:{self.controller_port}"
        self.cluster_id = cluster_id
        #: Replicas of the broker's own topics (consumer offsets, transactions).
        self.internal_replication = internal_replication
        java = shutil.which("java")
        if java is None:
            raise RuntimeError("java not found: install a JDK 17 (apt-get install openjdk-17-jdk)")
        self.config_path = self.data_dir / "server.properties"
        heap_flags = [f"-Xms{heap[0]}", f"-Xmx{heap[1]}"]
        self._java = [java, *heap_flags, *_JVM_FLAGS, _LOG4J_FLAG, "-cp", f"{self.libs}/*"]
        super().__init__(
            "kafka" if voters is None else f"kafka-{node_id}",
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
            "node.id": str(self.node_id),
            "controller.quorum.voters": self.voters,
            "listeners": f"PLAINTEXT://{self.bootstrap},CONTROLLER://{controller}",
            "advertised.listeners": f"PLAINTEXT://{self.bootstrap}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(log_dir),
            **tuning(self.internal_replication),
        }
        self.config_path.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
        if not (log_dir / "meta.properties").exists():
            cluster_id = self.cluster_id or new_cluster_id()
            if not re.fullmatch(r"[A-Za-z0-9_-]{22}", cluster_id):
                raise RuntimeError(f"not a KRaft cluster id: {cluster_id!r}")
            self._storage_tool("format", "-t", cluster_id, "-c", str(self.config_path))

    def _storage_tool(self, *args: str) -> str:
        return storage_tool(self._java, *args)

    def _probe(self) -> None:
        # A bare TCP check first, so that the admin client does not log connection errors.
        with socket.create_connection((self.host, self.port), timeout=1):
            pass
        # Call from synchronous code only (asyncio.run refuses to nest in a running loop).
        asyncio.run(_check_brokers_registered(self.bootstrap, {self.node_id}))


async def _check_brokers_registered(bootstrap: str, node_ids: set[int]) -> None:
    """Raise unless the broker answers a metadata request listing every one of ``node_ids``.

    A KRaft broker lists only unfenced brokers, and topic creation fails until there is one,
    so an open port or an answered ApiVersions request is not enough.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
    finally:
        await admin.close()
    listed = {broker["node_id"] for broker in cluster["brokers"]}
    if not node_ids <= listed:
        raise RuntimeError(f"brokers {sorted(node_ids - listed)} not unfenced in the metadata yet")


class KafkaCluster:
    """``size`` Kafka nodes on this machine, each a :class:`KafkaBroker` with its own ports on
    ``host``, data directory (``<data_dir>/node-<id>``) and log, started, stopped, killed or
    paused on its own.

    Every node has both roles, broker and controller, and the controllers form one static
    quorum of ``size`` voters (three nodes: a majority of two; one node lost leaves a working
    cluster, two lost leave no quorum, so no leader can move and nothing is acknowledged).
    Combined roles rather than a controller quorum of its own: three JVMs instead of six on a
    2-core machine, at the price that a node lost is both a broker and a controller lost,
    which the fault drills (tests/faults/test_cluster.py) want anyway.

    The cluster id is chosen once and kept in ``<data_dir>/cluster.id``; each node formats its
    storage with it on its first start only, so a restarted node (or cluster) keeps its data.
    The broker's own topics (consumer offsets, transactions) get ``min(size, 3)`` replicas.
    With ``ports`` (broker port, controller port) per node the nodes listen there (`make up`),
    otherwise on free ports.
    """

    def __init__(
        self,
        data_dir: Path,
        size: int = 3,
        *,
        ports: Sequence[tuple[int, int]] | None = None,
        host: str = LOCALHOST,
        libs: Path | None = None,
        heap: tuple[str, str] = CLUSTER_HEAP,
    ) -> None:
        if size < 1:
            raise ValueError("a cluster has one node at least")
        if ports is not None and len(ports) != size:
            raise ValueError(f"{size} nodes but {len(ports)} pairs of ports")
        self.data_dir = Path(data_dir).resolve()
        self.host = host
        self.size = size
        libs = libs or ensure_kafka_jars()
        chosen = list(ports) if ports is not None else [(0, 0)] * size
        pairs = [(p or free_port(host), c or free_port(host)) for p, c in chosen]
        voters = ",".join(f"{i}@{host}:{c}" for i, (_, c) in enumerate(pairs, start=1))
        cluster_id = self._cluster_id()
        self.nodes = [
            KafkaBroker(
                self.data_dir / f"node-{node_id}",
                port,
                controller_port,
                host=host,
                libs=libs,
                node_id=node_id,
                voters=voters,
                cluster_id=cluster_id,
                internal_replication=self.replication,
                heap=heap,
            )
            for node_id, (port, controller_port) in enumerate(pairs, start=1)
        ]

    def __iter__(self) -> Iterator[KafkaBroker]:
        return iter(self.nodes)

    def _cluster_id(self) -> str:
        path = self.data_dir / "cluster.id"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cluster_id = new_cluster_id()
        path.write_text(cluster_id + "\n")
        return cluster_id

    @property
    def replication(self) -> int:
        """The replicas a topic should have here: every node, up to three."""
        return min(self.size, 3)

    @property
    def bootstrap(self) -> str:
        """Every node's address, comma-separated, so that a client reaches the cluster through
        any node that is up."""
        return ",".join(node.bootstrap for node in self.nodes)

    def node(self, node_id: int) -> KafkaBroker:
        """The node with this id (1 to size)."""
        return self.nodes[node_id - 1]

    def start(self) -> None:
        """Start every node that is not running (none is ready before a majority runs)."""
        stopped = [node for node in self.nodes if not node.running]
        # Formatting starts a JVM per node: in parallel, on the first start.
        with ThreadPoolExecutor(max_workers=max(1, len(stopped))) as pool:
            list(pool.map(KafkaBroker.start, stopped))

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Until every node is running and every node is an unfenced broker."""
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            node.wait_ready(max(1.0, deadline - time.monotonic()))
        everyone = {node.node_id for node in self.nodes}
        while True:
            try:
                asyncio.run(_check_brokers_registered(self.bootstrap, everyone))
                return
            except Exception as exc:  # not every broker unfenced yet
                if time.monotonic() >= deadline:
                    raise TimeoutError(
                        f"the cluster not whole after {timeout:.0f}s: {exc!r}"
                    ) from exc
            time.sleep(0.2)

    def stop(self, timeout: float = 60.0) -> None:
        """Stop every node, together (one by one, the last ones would wait for a quorum)."""
        with ThreadPoolExecutor(max_workers=self.size) as pool:
            list(pool.map(lambda node: node.stop(timeout), self.nodes))

    def kill(self) -> None:
        for node in self.nodes:
            node.kill()
