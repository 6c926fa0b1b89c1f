"""The local services without Docker, by their former names: deploy.processes (process
supervision), deploy.broker (the Kafka broker) and deploy.redis_server (Redis) hold them."""

from __future__ import annotations

from deploy.broker import (
    DEFAULT_CACHE_DIR,
    DEPLOY_DIR,
    KAFKA_VERSION,
    REPO_DIR,
    KafkaBroker,
    ensure_kafka_jars,
)
from deploy.processes import LOCALHOST, ManagedProcess, free_port
from deploy.redis_server import RedisServer, ensure_redis_server

__all__ = [
    "DEFAULT_CACHE_DIR",
    "DEPLOY_DIR",
    "KAFKA_VERSION",
    "LOCALHOST",
    "REPO_DIR",
    "KafkaBroker",
    "ManagedProcess",
    "RedisServer",
    "ensure_kafka_jars",
    "ensure_redis_server",
    "free_port",
]
