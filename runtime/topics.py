"""Creates the service's topics with their settings; used by the CLI, the local stack,
docker-compose and the tests alike."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from schemas.topics import Topics


def min_insync_replicas(replication: int) -> int:
    """Each topic's min.insync.replicas, set explicitly (never the broker's default, which a
    cluster may have set above the replicas a topic has, making it refuse every write).

    From 3 replicas on, 2: an acknowledged record (acks=all) is on two brokers at least, so one
    broker lost loses nothing, and writes go on while one broker is away; more replicas add
    brokers that may be away, not copies to wait for. With 2 replicas, 1: acks=all still waits
    for both while both are in sync, and one broker away leaves the other taking writes alone
    (with 2, any one broker away would stop the writes of every partition it holds: no more
    available than one broker, for twice the brokers). With 1 replica, 1."""
    return 2 if replication >= 3 else 1


async def create_topics(
    bootstrap_servers: str,
    topics: Topics,
    partitions: int,
    replication: int = 1,
    max_record_bytes: int = 1_048_576,
    *,
    options: Mapping[str, Any] | None = None,
) -> list[str]:
    """Create whichever of the topics do not exist yet; returns the names it created.
    ``replication`` is QC_TOPIC_REPLICATION: 1 for one broker, 3 on a production cluster;
    ``max_record_bytes`` is QC_MAX_RECORD_BYTES, each topic's max.message.bytes; ``options``
    are the client's security options (runtime.kafka_client.client_options)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **(options or {}))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [spec for spec in topics.specs() if spec.name not in existing]
        created = []
        for spec in missing:
            config = {**spec.config, "max.message.bytes": str(max_record_bytes)}
            config["min.insync.replicas"] = str(min_insync_replicas(replication))
            topic = NewTopic(spec.name, partitions, replication, topic_configs=config)
            try:
                await admin.create_topics([topic])
                created.append(spec.name)
            except TopicAlreadyExistsError:
                pass  # another instance created it meanwhile
        await _wait_for_leaders(admin, [spec.name for spec in missing])
        return created
    finally:
        await admin.close()


async def _wait_for_leaders(admin: AIOKafkaAdminClient, names: list[str]) -> None:
    """A new topic takes a moment to have leaders for every partition; wait for them."""
    for _ in range(100):
        if not names:
            return
        described = await admin.describe_topics(names)
        if all(
            t["error_code"] == 0
            and t["partitions"]
            and all(p["leader"] >= 0 for p in t["partitions"])
            for t in described
        ):
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"topics without leaders: {names}")
