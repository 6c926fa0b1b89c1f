"""The materializer: keeps the Redis view from ``qc.submitted`` and ``qc.results``.

A consumer group of its own. Its position in the log is stored in Redis with the view itself
(see :mod:`qcexec.view`): on start, and whenever it finds the view's offsets gone (a flushed
or replaced Redis), it reads the log again from the beginning and so rebuilds the view.
Run it with ``python -m processor.materializer``.
"""

from __future__ import annotations

import asyncio
import logging
import signal

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from pydantic import ValidationError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from qcexec.settings import Settings
from qcexec.view import TaskView, ViewEntry, result_entry, submitted_entry
from schemas.events import TaskResult, TaskSubmitted
from schemas.topics import Topics

log = logging.getLogger(__name__)

BATCH_RECORDS = 500
REDIS_RETRY_S = 0.5


def _field(tp: TopicPartition) -> str:
    return f"{tp.topic}:{tp.partition}"


class Materializer(ConsumerRebalanceListener):
    def __init__(self, consumer: AIOKafkaConsumer, view: TaskView, topics: Topics) -> None:
        self.consumer = consumer
        self.view = view
        self._entry = {
            topics.submitted: lambda raw: submitted_entry(TaskSubmitted.decode(raw)),
            topics.results: lambda raw: result_entry(TaskResult.decode(raw)),
        }
        self._written: set[str] = set()  # offsets fields this instance has stored

    def subscribe(self) -> None:
        self.consumer.subscribe(list(self._entry), listener=self)

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        # Positions live in Redis, written with the view: nothing to hand over.
        self._written -= {_field(tp) for tp in revoked}

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self._seek_to_view(assigned)

    async def _seek_to_view(self, partitions: list[TopicPartition]) -> None:
        offsets = await self._retry(self.view.offsets)
        for tp in partitions:
            if _field(tp) in offsets:
                self.consumer.seek(tp, offsets[_field(tp)])
            else:
                await self.consumer.seek_to_beginning(tp)
        log.info("view positions for %d partitions: %s", len(partitions), offsets or "from start")

    async def _retry(self, call, *args):
        """Redis being away is not a reason to skip a record: wait for it."""
        while True:
            try:
                return await call(*args)
            except (RedisError, OSError) as exc:
                log.warning("redis unavailable, retrying: %r", exc)
                await asyncio.sleep(REDIS_RETRY_S)

    def _decode(self, topic: str, raw: bytes | None) -> ViewEntry | None:
        try:
            return self._entry[topic](raw)
        except (orjson.JSONDecodeError, ValidationError, TypeError) as exc:
            log.warning("skipping undecodable record on %s: %s", topic, exc)
            return None

    async def step(self) -> int:
        """Apply one batch from the log; returns how many records it read."""
        batch = await self.consumer.getmany(timeout_ms=500, max_records=BATCH_RECORDS)
        if not batch:
            return 0
        if self._written - (await self._retry(self.view.offsets)).keys():
            # The view was thrown away under us: rebuild it from the start of the log.
            log.warning("the view lost its offsets; rebuilding from the start of the log")
            self._written.clear()
            await self._seek_to_view(list(self.consumer.assignment()))
            return 0
        entries: list[ViewEntry] = []
        offsets: dict[str, int] = {}
        commits: dict[TopicPartition, int] = {}
        for tp, records in batch.items():
            for record in records:
                entry = self._decode(tp.topic, record.value)
                if entry is not None:
                    entries.append(entry)
            offsets[_field(tp)] = commits[tp] = records[-1].offset + 1
        await self._retry(self.view.apply_batch, entries, offsets)
        self._written |= offsets.keys()
        try:  # for lag monitoring only: the view's own offsets are the ones that count
            await self.consumer.commit(commits)
        except Exception as exc:
            log.info("offset commit to the broker failed: %r", exc)
        return sum(len(records) for records in batch.values())

    async def run(self, stop: asyncio.Event) -> None:
        self.subscribe()
        while not stop.is_set():
            await self.step()


async def serve(settings: Settings) -> None:
    redis = Redis.from_url(settings.redis_url)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=settings.materializer_group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await consumer.start()
    try:
        view = TaskView(redis, settings.redis_prefix, settings.redis_result_ttl)
        await Materializer(consumer, view, settings.topics).run(stop)
    finally:
        await consumer.stop()
        await redis.aclose()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(serve(Settings()))


if __name__ == "__main__":
    main()
