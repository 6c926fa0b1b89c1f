"""Reading a topic range by range and writing records back, for the operator's commands
(``replay``, ``rebuild-view``): plain clients without a consumer group, so they never take
partitions away from the processors or the materializer. ``options`` are the clients' security
options (runtime.kafka_client.client_options)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition


@contextlib.asynccontextmanager
async def reader(
    bootstrap_servers: str,
    topics: Iterable[str],
    timeout_s: float = 30,
    *,
    options: Mapping[str, Any] | None = None,
) -> AsyncIterator[AIOKafkaConsumer]:
    """A consumer holding every partition of ``topics`` (positions not set yet)."""
    topics = list(topics)
    # Without a group, a subscription is a plain assignment of every partition.
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        **(options or {}),
    )
    await consumer.start()
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while {tp.topic for tp in consumer.assignment()} != set(topics):
            if asyncio.get_running_loop().time() > deadline:
                raise LookupError(f"no topic(s) {topics} on {bootstrap_servers}")
            await asyncio.sleep(0.1)
        yield consumer
    finally:
        await consumer.stop()


@contextlib.asynccontextmanager
async def writer(
    bootstrap_servers: str,
    *,
    options: Mapping[str, Any] | None = None,
    compression: str | None = None,
) -> AsyncIterator[AIOKafkaProducer]:
    """An idempotent producer whose sends are acknowledged by every in-sync replica, compressed
    as the services' (``compression``: aiokafka's ``compression_type``, QC_COMPRESSION)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        compression_type=compression,
        **(options or {}),
    )
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


async def behind(consumer: AIOKafkaConsumer, stops: dict[TopicPartition, int]) -> bool:
    """Whether some partition has not been read up to its stop offset yet."""
    for tp, stop in stops.items():
        if await consumer.position(tp) < stop:
            return True
    return False
