"""Compression of the records the service writes (QC_COMPRESSION, zstd by default).

The producers compress each batch of records (aiokafka's ``compression_type``); the broker
keeps them compressed (the topics' ``compression.type`` stays ``producer``), and its limit on a
record (the topics' ``max.message.bytes``, QC_MAX_RECORD_BYTES) counts the compressed batch.
aiokafka checks its own ``max_request_size`` against the record before compression, so the
producers are given the larger bound on a result before compression (QC_MAX_RESULT_BYTES), and
the limit on what the broker will take is checked here, on the compressed size
(:func:`compressed_size`): a result counts what it will weigh on the log.

zstd needs brokers that speak Produce version 7 or later (Kafka 2.1, KIP-110); an older broker
refuses each compressed batch (``UNSUPPORTED_COMPRESSION_TYPE``), which would fail every write.
So a service checks every broker's versions when it starts (:func:`check_brokers`) and refuses
to start against one that cannot read what it writes, saying which and what to set.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any

from aiokafka.client import AIOKafkaClient
from aiokafka.codec import gzip_encode, zstd_encode
from aiokafka.errors import KafkaConnectionError, KafkaError
from aiokafka.protocol.admin import ApiVersionRequest

#: The Produce request's API key (Kafka protocol).
PRODUCE_API_KEY = 0
#: How long a broker has to tell its versions at start.
ANSWER_S = 10.0


class Codec(StrEnum):
    """What the producers compress with (QC_COMPRESSION)."""

    ZSTD = "zstd"
    GZIP = "gzip"
    NONE = "none"

    @property
    def producer_option(self) -> str | None:
        """aiokafka's (and Faust's) ``compression_type`` for this codec."""
        return None if self is Codec.NONE else self.value

    @property
    def min_produce_version(self) -> int:
        """The oldest Produce version a broker must speak to take batches of this codec."""
        return 7 if self is Codec.ZSTD else 0


#: The producer's own encoders (aiokafka.codec, what its record batches are compressed with,
#: at the same levels), so that a size measured here is the size the producer writes.
_ENCODERS: dict[Codec, Callable[[bytes], bytes]] = {
    Codec.ZSTD: zstd_encode,
    Codec.GZIP: gzip_encode,
    Codec.NONE: lambda value: value,
}


def compressed_size(value: bytes, codec: Codec) -> int:
    """The bytes ``value`` takes once compressed as a producer compresses a batch of it alone
    (a record too large to share its batch: the only case where the limit is near)."""
    return len(_ENCODERS[codec](value))


class UnsupportedCompression(RuntimeError):
    """A broker cannot take the records compressed as the settings say: permanent."""


async def produce_versions(
    bootstrap_servers: str, options: Mapping[str, Any], timeout_s: float = ANSWER_S
) -> dict[int, int]:
    """Each broker's newest Produce version (ApiVersions), by node id: of the brokers that
    answer within ``timeout_s`` (one frozen or on its way out takes no writes anyway, and
    must not hold a service's start); raises a retryable error when none answers."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap_servers, **options)
    await client.bootstrap()
    try:
        versions: dict[int, int] = {}
        for broker in client.cluster.brokers():
            try:
                response = await asyncio.wait_for(
                    client.send(broker.nodeId, ApiVersionRequest()), timeout_s
                )
            except (TimeoutError, KafkaError, OSError):
                continue
            versions[broker.nodeId] = max(
                (high for key, _, high in response.api_versions if key == PRODUCE_API_KEY),
                default=-1,
            )
        if not versions:
            raise KafkaConnectionError(f"no broker of {bootstrap_servers} told its versions")
        return versions
    finally:
        await client.close()


def unsupported(versions: Mapping[int, int], codec: Codec) -> str | None:
    """Why the brokers of ``versions`` cannot take ``codec`` (None: all of them can)."""
    old = sorted(node for node, version in versions.items() if version < codec.min_produce_version)
    if not old:
        return None
    return (
        f"QC_COMPRESSION={codec.value} needs brokers that speak Produce version "
        f"{codec.min_produce_version} or later (Kafka 2.1); broker(s) {old} speak at most "
        f"{min(versions[node] for node in old)}: upgrade them or set QC_COMPRESSION=gzip"
    )


async def check_brokers(bootstrap_servers: str, codec: Codec, options: Mapping[str, Any]) -> None:
    """Raise :class:`UnsupportedCompression` when a broker cannot take ``codec``."""
    if codec.min_produce_version == 0:
        return
    reason = unsupported(await produce_versions(bootstrap_servers, options), codec)
    if reason is not None:
        raise UnsupportedCompression(reason)
