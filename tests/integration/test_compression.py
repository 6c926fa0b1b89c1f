"""Bigger results on the same log: the producers compress (QC_COMPRESSION, zstd by default),
the broker keeps the records compressed, and the limit on a result counts what it weighs there
(runtime/compression.py, processor/app.py ``fitted``).

What the broker keeps is read from the broker itself: a Fetch of the result's offset, whose
record batch header (Kafka's format: attributes at byte 21, the codec in their low 3 bits) says
how it is compressed and how large it is."""

from __future__ import annotations

import asyncio
import struct

import pytest
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaConnectionError
from aiokafka.protocol.fetch import FetchRequest
from aiokafka.structs import TopicPartition
from qiskit import qasm3
from qiskit_aer import AerSimulator

from runtime.compression import Codec, check_brokers, produce_versions, unsupported
from runtime.retry import retryable
from tests.helpers import read_topic
from tests.services import Services
from tests.stack import MakeStack, Stack

WIDE = 20
#: Every one of 2**20 outcomes about equally likely: 100,000 shots give about 100,000 distinct
#: bit strings in the counts, some 2.4 MB of JSON (2.8 MB with the rest of the result): more
#: than twice QC_MAX_RECORD_BYTES, a fifth of it once compressed.
SPREAD = (
    'OPENQASM 3.0;\ninclude "stdgates.inc";\n'
    f"qubit[{WIDE}] q;\nbit[{WIDE}] c;\nh q;\nc = measure q;\n"
)
RECORD_BYTES = 1_048_576
#: Kafka's record batch codecs (the attributes' low 3 bits).
CODECS = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}


def stored_batches(
    bootstrap: str, topic: str, partition: int, offset: int
) -> list[tuple[str, int]]:
    """The record batches the broker holds from ``offset`` on: (codec, bytes) of each."""

    async def fetch() -> bytes:
        client = AIOKafkaClient(bootstrap_servers=bootstrap)
        await client.bootstrap()
        try:
            tp = TopicPartition(topic, partition)
            await client._wait_on_metadata(topic)
            leader = client.cluster.leader_for_partition(tp)
            request = FetchRequest(
                100, 1, 8 * RECORD_BYTES, 0, [(topic, [(partition, offset, 8 * RECORD_BYTES)])]
            )
            response = await client.send(leader, request)
            ((_, partitions),) = response.topics
            (data,) = partitions
            return bytes(data[-1])
        finally:
            await client.close()

    raw = asyncio.run(fetch())
    batches, at = [], 0
    while at + 23 <= len(raw):
        (length,) = struct.unpack_from(">i", raw, at + 8)
        if at + 12 + length > len(raw):
            break  # a batch cut by the fetch's size
        (attributes,) = struct.unpack_from(">h", raw, at + 21)
        batches.append((CODECS[attributes & 0x07], 12 + length))
        at += 12 + length
    return batches


def test_every_broker_takes_zstd_and_an_older_one_is_named() -> None:
    assert unsupported({1: 11, 2: 11}, Codec.ZSTD) is None
    reason = unsupported({1: 11, 2: 6, 3: 5}, Codec.ZSTD)
    assert reason is not None
    assert (
        "broker(s) [2, 3]" in reason and "at most 5" in reason and "QC_COMPRESSION=gzip" in reason
    )
    assert unsupported({1: 3}, Codec.GZIP) is None and unsupported({1: 0}, Codec.NONE) is None


@pytest.mark.broker
def test_the_brokers_versions_are_read_at_start(real_services: Services) -> None:
    versions = asyncio.run(produce_versions(real_services.kafka_bootstrap, {}))
    assert versions and all(version >= 7 for version in versions.values())  # Kafka 3.9: 11
    asyncio.run(check_brokers(real_services.kafka_bootstrap, Codec.ZSTD, {}))
    # A broker that does not answer in time is passed over; none answering is worth a retry
    # (the services' start retries it), never a verdict on the brokers' versions.
    with pytest.raises(KafkaConnectionError) as none:
        asyncio.run(produce_versions(real_services.kafka_bootstrap, {}, timeout_s=0))
    assert retryable(none.value)


def test_a_result_larger_than_a_record_completes_compressed(stack: Stack) -> None:
    task_id = stack.submit(SPREAD, shots=100_000, seed=5)
    done = stack.wait_terminal(task_id, timeout=120)
    assert done["status"] == "completed", done
    circuit = qasm3.loads(SPREAD)
    reference = AerSimulator().run(circuit, shots=100_000, seed_simulator=5).result().get_counts()
    assert done["result"] == reference  # same seed, same counts as Aer in-process
    assert len(reference) > 90_000

    (record,) = [
        r
        for r in read_topic(stack.services.kafka_bootstrap, stack.topics.results)
        if r.key == task_id.encode()
    ]
    assert len(record.value) > 2 * RECORD_BYTES  # what the consumers read: the whole result
    batches = stored_batches(
        stack.services.kafka_bootstrap, stack.topics.results, record.partition, record.offset
    )
    codec, size = batches[0]
    assert codec == "zstd"
    assert size < RECORD_BYTES < len(record.value)  # the broker's limit counts this size
    assert size < len(record.value) / 4

    # Each shot's outcome too: 4.7 MB written, about 0.95 MB compressed, still one record.
    with_memory = stack.wait_terminal(stack.submit(SPREAD, shots=100_000, seed=5, memory=True))
    assert with_memory["status"] == "completed", with_memory
    assert with_memory["result"] == reference and len(with_memory["memory"]) == 100_000


def test_a_result_that_does_not_fit_even_compressed_fails_with_both_sizes(
    make_stack: MakeStack,
) -> None:
    """Random bits do not compress below about 4.7 bytes a shot: on records of 256 KiB, 40,000
    shots of counts (0.95 MB written, about 0.19 MB compressed) fit, and 100,000 shots of counts
    and memory (4.7 MB written, about 0.95 MB compressed) do not; the processor's own check
    says so, with both sizes, and the task ends."""
    bound = 262_144
    stack = make_stack(QC_MAX_RECORD_BYTES=str(bound))
    fits = stack.submit(SPREAD, shots=40_000, seed=2)
    too_large = stack.submit(SPREAD, shots=100_000, seed=2, memory=True)  # admitted: < 8 MiB

    done = stack.wait_terminal(fits, timeout=120)
    assert done["status"] == "completed", done
    assert sum(done["result"].values()) == 40_000
    failed = stack.wait_terminal(too_large, timeout=120)
    assert failed["state"] == "failed", failed
    assert failed["error"]["code"] == "limit_exceeded"
    message = failed["message"]
    assert "once compressed (zstd)" in message and f"at most {bound}" in message
    written = int(message.split("takes ")[1].split(" ")[0])
    compressed = int(message.split(", ")[1].split(" ")[0])
    assert written > 4_000_000 and bound < compressed < written / 4
