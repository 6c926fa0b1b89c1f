"""A downstream service in a few lines: follow ``qc.results`` and print each outcome.

It depends only on a Kafka client and the published contract (``schemas/json``,
``schemas/asyncapi.yaml``), not on qcexec's code: it routes on the ``schema`` header and reads
the JSON value, ignoring fields it does not know, as the versioning rules ask.

    python deploy/examples/subscriber.py --bootstrap 127.0.0.1:9092 --group billing

Each subscriber group gets every result; run several copies with the same group to share the
partitions. ``--from-beginning`` makes a new group read the whole (compacted) topic first.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer
from aiokafka import AIOKafkaConsumer

SCHEMA = b"qc.results/v1"


def describe(result: dict) -> str:
    """One line per outcome: task id, status, and the counts or the error."""
    if result["status"] == "completed":
        detail = json.dumps(result["counts"], sort_keys=True)
    else:
        detail = f"{result['error']['code']}: {result['error']['message']}"
    return f"{result['task_id']} {result['status']} {detail}"


async def follow(bootstrap: str, topic: str, group: str, from_beginning: bool) -> None:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest" if from_beginning else "latest",
    )
    await consumer.start()
    try:
        async for record in consumer:
            if dict(record.headers).get("schema") != SCHEMA:
                continue  # a version this subscriber was not written for
            print(describe(json.loads(record.value)), flush=True)
    finally:
        await consumer.stop()


def main(
    bootstrap: Annotated[str, typer.Option(help="Kafka bootstrap servers.")] = "127.0.0.1:9092",
    topic: Annotated[str, typer.Option(help="The results topic.")] = "qc.results",
    group: Annotated[str, typer.Option(help="This subscriber's consumer group.")] = "subscriber",
    from_beginning: Annotated[bool, typer.Option("--from-beginning")] = False,
) -> None:
    asyncio.run(follow(bootstrap, topic, group, from_beginning))


if __name__ == "__main__":
    typer.run(main)
