"""The API's app factory: settings, clients and routes wired together."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from api import devices, errors, estimate, health, metrics, page, usage
from api.auth import RateLimiter
from api.intake import Backlog
from api.limits import BodySizeLimit
from api.metrics import RequestMetrics
from api.routes import router
from api.submissions import SubmissionLog
from api.tracing import ClientTrace
from programs.devices import catalog
from programs.exported import exported_gates
from programs.workers import ProgramReader
from runtime.kafka_client import client_options
from runtime.redis_client import redis_client
from runtime.settings import Settings
from runtime.startup import freeze_startup_objects
from runtime.telemetry import tracing_on
from runtime.view import TaskView

#: Requests that get no trace (comma-separated regular expressions, as OpenTelemetry takes them).
UNTRACED_URLS = "/healthz,/readyz,/metrics"


def create_app(settings: Settings | None = None) -> FastAPI:
    config = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        exported_gates()  # the parser's table, built now rather than on the first submission
        reader = ProgramReader(
            config.limits,
            workers=config.qc_parse_workers,
            time_limit_s=config.qc_parse_time_limit_ms / 1000,
            memory_mb=config.qc_parse_memory_mb,
            inline_bytes=config.qc_parse_inline_bytes,
            nice=config.qc_parse_worker_nice,
        )
        await asyncio.to_thread(reader.warm_up)
        await asyncio.to_thread(catalog)  # the device snapshots' names, read once
        app.state.reader = reader
        redis = redis_client(config)
        submissions = SubmissionLog(
            config.kafka_bootstrap_servers,
            config.topics,
            config.api_submit_timeout_s,
            config.qc_max_record_bytes,
            options=client_options(config),
            codec=config.qc_compression,
        )
        await submissions.start(wait_s=config.api_broker_wait_s)
        view = TaskView(redis, config.redis_prefix, config.redis_result_ttl)
        app.state.settings = config
        app.state.submissions = submissions
        app.state.view = view
        app.state.backlog = Backlog(view, config)
        app.state.rate_limiter = RateLimiter(
            redis, config.redis_prefix, config.api_rate_limit_per_s, config.api_rate_limit_burst
        )
        freeze_startup_objects()
        try:
            async with view.notifications() as notifier:
                app.state.notifier = notifier
                yield
        finally:
            await submissions.stop()
            await redis.aclose()
            reader.close()

    app = FastAPI(
        title="qcexec",
        summary="Run OpenQASM 2 and 3 programs on a simulator, through a Kafka-compatible log.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.add_middleware(BodySizeLimit, max_bytes=config.api_max_request_bytes)
    app.add_middleware(RequestMetrics, fastapi_app=app)  # outermost: sees every answer
    errors.install(app)
    app.include_router(estimate.router)
    app.include_router(router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(page.router)
    app.include_router(devices.router)
    app.include_router(usage.router)
    if tracing_on():
        # Server spans (a client's traceparent honoured) around all of it; not for the probes.
        FastAPIInstrumentor.instrument_app(
            app,
            excluded_urls=os.environ.get("OTEL_PYTHON_FASTAPI_EXCLUDED_URLS", UNTRACED_URLS),
            exclude_spans=["receive", "send"],
        )
    else:
        app.add_middleware(ClientTrace)
    return app
