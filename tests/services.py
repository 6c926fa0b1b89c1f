"""The real broker and Redis the tests run against, found or started once per session.

In this order:
1. addresses from the environment: ``QCEXEC_TEST_KAFKA`` (host:port of a Kafka or Redpanda)
   and ``QCEXEC_TEST_REDIS`` (a redis:// URL), to bring your own;
2. Redpanda and Redis containers through testcontainers, where a Docker engine answers;
3. Apache Kafka (KRaft, from its jars) and redis-server as local processes on free ports.
Only the third way lets fault tests stop and restart the services themselves.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from deploy.broker import KafkaBroker
from deploy.redis_server import RedisServer


@dataclass
class Services:
    kafka_bootstrap: str
    redis_url: str
    broker: KafkaBroker | None = None
    redis: RedisServer | None = None

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
