"""Creates the service's topics with their settings; used by the CLI, the local stack,
docker-compose and the tests alike."""

from __future__ import annotations

import asyncio

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from schemas.topics import Topics


async def create_topics(
    bootstrap_servers: str,
    topics: Topics,
    partitions: int,
    replication: int = 1,
    max_record_bytes: int = 1_048_576,
) -> list[str]:
    """Create whichever of the topics do not exist yet; returns the names it created.
    ``replication`` is QC_TOPIC_REPLICATION: 1 for one broker, 3 on a production cluster;
    ``max_record_bytes`` is QC_MAX_RECORD_BYTES, each topic's max.message.bytes."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [spec for spec in topics.specs() if spec.name not in existing]
        created = []
        for spec in missing:
            config = {**spec.config, "max.message.bytes": str(max_record_bytes)}
            if replication >= 3:
                # acks=all then waits for a second copy at least: one broker lost loses nothing.
                config["min.insync.replicas"] = str(replication - 1)
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
