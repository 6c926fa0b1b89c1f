"""Entry point of a processor instance: ``python -m processor``."""

from __future__ import annotations

import faust
from redis.asyncio import Redis

from processor.app import create_app
from processor.pool import SimulationPool
from qcexec.settings import Settings
from qcexec.view import TaskView


def main() -> None:
    settings = Settings()
    pool = SimulationPool(
        workers=settings.processor_workers,
        limits=settings.limits,
        max_memory_mb=settings.qc_task_max_memory_mb,
        time_limit_s=settings.qc_task_time_limit_ms / 1000,
    )
    pool.warm_up()
    redis = Redis.from_url(settings.redis_url)
    view = TaskView(redis, settings.redis_prefix, settings.redis_result_ttl)
    app = create_app(settings, pool, view)
    try:
        # The worker handles SIGTERM and SIGINT: it stops consuming, lets the agents finish
        # the records in hand and commits what they finished.
        faust.Worker(app, loglevel="info").execute_from_commandline()
    finally:
        pool.close()
