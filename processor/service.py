"""Entry point of a processor instance: ``python -m processor``."""

from __future__ import annotations

import asyncio
import logging
import sys

import faust

from processor.app import create_app
from processor.pool import SimulationPool
from runtime import metrics, retry
from runtime.compression import UnsupportedCompression, check_brokers
from runtime.kafka_client import client_options
from runtime.logsetup import json_logs, setup_logging
from runtime.redis_client import redis_client
from runtime.settings import Settings
from runtime.startup import freeze_startup_objects
from runtime.telemetry import setup_tracing
from runtime.view import TaskView

log = logging.getLogger("processor")


def main() -> None:
    settings = Settings()
    setup_logging(settings, "processor")
    setup_tracing(settings, "processor")
    try:  # before anything is consumed: a result the brokers cannot take would end nothing
        asyncio.run(
            retry.call(
                check_brokers,
                settings.kafka_bootstrap_servers,
                settings.qc_compression,
                client_options(settings),
                what="reading the brokers' versions",
                log=log,
            )
        )
    except UnsupportedCompression as exc:
        log.critical("%s", exc)
        raise SystemExit(2) from exc
    pool = SimulationPool(settings)
    pool.warm_up()
    redis = redis_client(settings)
    view = TaskView(redis, settings.redis_prefix, settings.redis_result_ttl)
    app = create_app(settings, pool, view)
    server = metrics.serve(
        metrics.PROCESSOR,
        settings.metrics_host,
        settings.processor_metrics_port,
        settings.liveness_timeout_s,
    )
    freeze_startup_objects()
    try:
        # The worker handles SIGTERM and SIGINT: it stops consuming, lets the agents finish
        # the records in hand and commits what they finished. Logging stays as set up above
        # (override_logging=False); in JSON its banner would be the one line that is not.
        worker = faust.Worker(
            app,
            loglevel=settings.log_level,
            override_logging=False,
            quiet=json_logs(settings.log_format),
        )
        if not sys.stdout.isatty():
            worker.spinner = None  # its terminal escapes would land in the log
        worker.execute_from_commandline()
    finally:
        if server is not None:
            server.stop()
        pool.close()
