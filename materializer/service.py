"""The materializer's consumer loop: keeps the Redis view from ``qc.submitted``,
``qc.results`` and ``qc.cancellations``.

A consumer group of its own. Its position in the log is stored in Redis with the view itself
(see :mod:`runtime.view`): on start, and whenever it finds the view's offsets gone (a flushed
or replaced Redis), it reads the log again from the beginning and so rebuilds the view.
Run it with ``python -m materializer``.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

from materializer import observe
from materializer.records import BATCH_RECORDS, offsets_field, view_entries
from runtime import metrics, retry
from runtime.kafka_client import client_options
from runtime.logsetup import setup_logging
from runtime.redis_client import redis_client
from runtime.settings import Settings
from runtime.startup import freeze_startup_objects
from runtime.telemetry import setup_tracing
from runtime.view import StalePosition, TaskView, ViewEntry
from schemas.topics import Topics

log = logging.getLogger(__name__)
T = TypeVar("T")

#: The longest pause between two tries of Redis.
REDIS_RETRY_MAX_S = 2.0


async def retry_redis(call: Callable[..., Awaitable[T]], *args: Any) -> T:
    """Redis being away is not a reason to skip a record: wait for it (waiting for Redis is
    not a stall: the liveness heartbeat beats meanwhile)."""
    return await retry.call(
        call,
        *args,
        what="writing the view",
        log=log,
        max_wait_s=REDIS_RETRY_MAX_S,
        on_wait=metrics.HEARTBEAT.beat,
    )


class Materializer(ConsumerRebalanceListener):
    def __init__(self, consumer: AIOKafkaConsumer, view: TaskView, topics: Topics) -> None:
        self.consumer = consumer
        self.view = view
        self.topics = topics
        self._view_prefix = view.prefix  # the view this instance writes to
        #: Offsets this instance has stored in its view, by field: the view must still hold
        #: them at least that far (a Redis restored from an older snapshot does not).
        self._written: dict[str, int] = {}

    def _skipped(self, topic: str) -> None:
        metrics.materializer_skipped.labels(topic).inc()

    def subscribe(self) -> None:
        self.consumer.subscribe(self.topics.view_sources(), listener=self)

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        # Positions live in Redis, written with the view: nothing to hand over.
        for tp in revoked:
            self._written.pop(offsets_field(tp), None)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self._seek_to_view(assigned)

    async def _seek_to_view(self, partitions: list[TopicPartition]) -> None:
        self._view_prefix = await retry_redis(self.view.active_prefix)
        offsets = await retry_redis(self.view.offsets, self._view_prefix)
        fields = {offsets_field(tp) for tp in partitions}
        self._written = {field: offsets[field] for field in fields & offsets.keys()}
        for tp in partitions:
            if offsets_field(tp) in offsets:
                self.consumer.seek(tp, offsets[offsets_field(tp)])
            else:
                await self.consumer.seek_to_beginning(tp)
        log.info(
            "view %s: positions for %d partitions: %s",
            self._view_prefix, len(partitions), offsets or "from the start",
        )  # fmt: skip

    async def _apply(self, entries: list[ViewEntry], offsets: dict[str, int]) -> int:
        """Write to our view only while it is the active one and still holds our offsets."""
        return await self.view.apply_batch(
            entries,
            offsets,
            view=self._view_prefix,
            only_if_active=True,
            expected=self._written,
        )

    async def step(self) -> int:
        """Apply one batch from the log; returns how many records it applied."""
        batch = await self.consumer.getmany(timeout_ms=500, max_records=BATCH_RECORDS)
        entries, offsets = view_entries(self.topics, batch, self._skipped)
        try:
            if not batch:  # idle: still notice a lost view, so that it is refilled now
                await retry_redis(self._apply, [], {})
                return 0
            with observe.view_write(batch, self.topics):
                await retry_redis(self._apply, entries, offsets)
        except StalePosition:
            # The view was switched (rebuild-view), thrown away (a flushed Redis) or restored
            # from an older snapshot: read our position again from the view (the start of the
            # log for a lost view), so that what the view lost is written again.
            metrics.materializer_view_resets.inc()
            log.warning("the view moved or lost offsets; reading the log from its position")
            await self._seek_to_view(list(self.consumer.assignment()))
            return 0
        self._written.update(offsets)
        return sum(len(records) for records in batch.values())

    async def run(self, stop: asyncio.Event) -> None:
        self.subscribe()
        while not stop.is_set():
            await self.step()
            metrics.HEARTBEAT.beat()


async def serve(settings: Settings) -> None:
    redis = redis_client(settings)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=settings.materializer_group,
        # The group's committed offsets are for lag monitoring only (the view's own offsets,
        # in Redis, are the ones that count), so once a second is plenty.
        enable_auto_commit=True,
        auto_commit_interval_ms=1000,
        auto_offset_reset="earliest",
        # aiokafka (0.14) retries a partition's offset lookup after a rebalance against the
        # leader it last knew, without refreshing its metadata, until the next refresh (5 min
        # by default): a broker frozen past a leader change stalled a partition that long
        # (tests/faults/test_cluster.py, the paused broker). A refresh every 10 s bounds that.
        metadata_max_age_ms=10_000,
        **client_options(settings),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await consumer.start()
    server = metrics.serve(
        metrics.MATERIALIZER,
        settings.metrics_host,
        settings.materializer_metrics_port,
        settings.liveness_timeout_s,
    )
    view = TaskView(redis, settings.redis_prefix, settings.redis_result_ttl)
    lag = asyncio.create_task(observe.track_lag(consumer))
    oldest = asyncio.create_task(observe.track_oldest_waiting(view))
    try:
        await Materializer(consumer, view, settings.topics).run(stop)
    finally:
        lag.cancel()
        oldest.cancel()
        if server is not None:
            server.stop()
        await consumer.stop()
        await redis.aclose()


def main() -> None:
    settings = Settings()
    setup_logging(settings, "materializer")
    setup_tracing(settings, "materializer")
    freeze_startup_objects()
    asyncio.run(serve(settings))
