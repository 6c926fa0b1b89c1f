"""The real broker and Redis the tests run against, found or started once per session.

In this order:
1. addresses from the environment: ``QCEXEC_TEST_KAFKA`` (host:port of a Kafka or Redpanda)
   and ``QCEXEC_TEST_REDIS`` (a redis:// URL), to bring your own;
2. Redpanda and Redis containers through testcontainers, where a Docker engine answers;
3. Apache Kafka (KRaft, from its jars) and redis-server as local processes on free ports.
Only the third way lets fault tests stop and restart the services themselves.

A Kafka cluster (three KRaft nodes on free ports, and a Redis of its own) is started only for
the tests that ask for it, whatever the session uses: :func:`cluster_services`, through the
``kafka_cluster`` fixture (conftest.py).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from deploy.broker import KafkaBroker, KafkaCluster
from deploy.redis_server import RedisServer


@dataclass
class Services:
    kafka_bootstrap: str
    redis_url: str
    broker: KafkaBroker | None = None
    redis: RedisServer | None = None
    cluster: KafkaCluster | None = None

    @property
    def redis_host(self) -> str:
        return urlparse(self.redis_url).hostname or "127.0.0.1"

    @property
    def redis_port(self) -> int:
        return urlparse(self.redis_url).port or 6379


def _docker_answers() -> bool:
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if host.startswith("unix://") and not Path(host.removeprefix("unix://")).exists():
        return False  # no engine here (and docker-py would leave its failed socket open)
    try:
        import docker  # installed with testcontainers

        client = docker.from_env(timeout=3)
    except Exception:
        return False
    try:
        return bool(client.ping())
    except Exception:
        return False
    finally:
        client.close()


@contextlib.contextmanager
def _containers() -> Iterator[Services]:
    from testcontainers.kafka import RedpandaContainer
    from testcontainers.redis import RedisContainer

    with RedpandaContainer() as redpanda, RedisContainer() as redis:
        host, port = redis.get_container_host_ip(), redis.get_exposed_port(6379)
        yield Services(redpanda.get_bootstrap_server(), f"redis://{host}:{port}")


@contextlib.contextmanager
def _local_processes(work_dir: Path) -> Iterator[Services]:
    broker = KafkaBroker(work_dir / "kafka")
    redis = RedisServer(work_dir / "redis")
    try:
        broker.start()
        redis.start()
        broker.wait_ready(timeout=120)
        redis.wait_ready(timeout=30)
        yield Services(broker.bootstrap, redis.url, broker, redis)
    finally:
        redis.stop()
        broker.stop()


@contextlib.contextmanager
def services(work_dir: Path) -> Iterator[Services]:
    kafka, redis = os.environ.get("QCEXEC_TEST_KAFKA"), os.environ.get("QCEXEC_TEST_REDIS")
    if kafka and redis:
        yield Services(kafka, redis)
    elif _docker_answers():
        with _containers() as found:
            yield found
    else:
        with _local_processes(work_dir) as started:
            yield started


def java_found() -> bool:
    return shutil.which("java") is not None


@contextlib.contextmanager
def cluster_services(work_dir: Path, size: int = 3) -> Iterator[Services]:
    """A Kafka cluster of ``size`` nodes and a Redis, as local processes on free ports."""
    cluster = KafkaCluster(work_dir / "kafka-cluster", size)
    redis = RedisServer(work_dir / "redis")
    try:
        cluster.start()
        redis.start()
        cluster.wait_ready(timeout=180)
        redis.wait_ready(timeout=30)
        yield Services(cluster.bootstrap, redis.url, redis=redis, cluster=cluster)
    finally:
        redis.stop()
        # Killed, not stopped: the data is thrown away, and nodes stopped one after the other
        # would each wait for a quorum the others no longer make.
        cluster.kill()
