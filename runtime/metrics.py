"""Prometheus metrics of every role, and the small HTTP server of the processor and the
materializer: ``/metrics`` and ``/healthz`` (liveness) on PROCESSOR_METRICS_PORT or
MATERIALIZER_METRICS_PORT.

Each role has a registry of its own (with the process, platform and GC collectors), so that a
scrape shows only that role's metrics. The metric names are listed in docs/operations.md, "Observe".
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

log = logging.getLogger(__name__)

disable_created_metrics()  # no *_created series: half the lines, nothing anyone graphs


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
        registry.register(collector)
    return registry


API = _registry()
PROCESSOR = _registry()
MATERIALIZER = _registry()

#: Seconds: from a millisecond to the longest task time limit.
DURATION_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300,
)  # fmt: skip


def _exported(metric: Counter | Histogram, values: Iterable[str]) -> None:
    """Export these label values at 0 from the start: a series that first appears at 1 is
    no increase() to Prometheus, and an alert on it would miss the first occurrence."""
    for value in values:
        metric.labels(value)


class Oldest:
    """When each thing under way now began: the age of the oldest, for a gauge that the
    metrics server's thread reads at scrape time while the event loop starts and ends them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started: dict[int, float] = {}
        self._ids = itertools.count()

    @contextlib.contextmanager
    def track(self) -> Iterator[None]:
        with self._lock:
            key = next(self._ids)
            self._started[key] = time.monotonic()
        try:
            yield
        finally:
            with self._lock:
                del self._started[key]

    def age(self) -> float:
        """Seconds since the oldest began; 0 when nothing is under way."""
        with self._lock:
            oldest = min(self._started.values(), default=None)
        return 0.0 if oldest is None else time.monotonic() - oldest


# --- API ----------------------------------------------------------------------------------

api_requests = Counter(
    "qcexec_api_requests",
    "HTTP requests answered, by route template and status code.",
    ["method", "route", "code"],
    registry=API,
)
api_request_duration = Histogram(
    "qcexec_api_request_duration_seconds",
    "Time to answer an HTTP request, by route template.",
    ["method", "route"],
    buckets=DURATION_BUCKETS,
    registry=API,
)
api_submit_duration = Histogram(
    "qcexec_api_submit_duration_seconds",
    "Time for the broker to acknowledge a submission's record (acks=all); outcome accepted or "
    "unavailable (the client got a 503).",
    ["outcome"],
    buckets=DURATION_BUCKETS,
    registry=API,
)
_exported(api_submit_duration, ("accepted", "unavailable"))

# --- processor ----------------------------------------------------------------------------

processor_tasks = Counter(
    "qcexec_processor_tasks",
    "Submissions handled, by outcome: completed, failed, cancelled, duplicate (its outcome "
    "was already known), dead_letter (undecodable record), poison_cancellation (undecodable "
    "cancellation, skipped).",
    ["outcome"],
    registry=PROCESSOR,
)
_exported(
    processor_tasks,
    ("completed", "failed", "cancelled", "duplicate", "dead_letter", "poison_cancellation"),
)
processor_task_errors = Counter(
    "qcexec_processor_task_errors",
    "Failed and cancelled tasks by error code.",
    ["code"],
    registry=PROCESSOR,
)
processor_in_flight = Gauge(
    "qcexec_processor_tasks_in_flight",
    "Tasks this processor holds now (running or waiting for a worker process).",
    registry=PROCESSOR,
)
processor_simulation = Histogram(
    "qcexec_processor_simulation_seconds",
    "Time in the worker process by phase: parse (parse and check the program) and simulate "
    "(transpile when needed and run on Aer).",
    ["phase"],
    buckets=DURATION_BUCKETS,
    registry=PROCESSOR,
)
processor_task_duration = Histogram(
    "qcexec_processor_task_duration_seconds",
    "Time from taking a task to its outcome (waiting for a worker process included).",
    buckets=DURATION_BUCKETS,
    registry=PROCESSOR,
)
processor_queue_time = Histogram(
    "qcexec_processor_queue_seconds",
    "Time from submission to the start of the run: how far behind the processors are.",
    buckets=DURATION_BUCKETS,
    registry=PROCESSOR,
)
processor_lag = Gauge(
    "qcexec_consumer_lag",
    "Records of the partition not yet done: high watermark minus the group's committed offset.",
    ["topic", "partition"],
    registry=PROCESSOR,
)
#: The runs in a worker process now (processor/pool.py): a run is killed at its time limit.
RUNS = Oldest()
processor_oldest_run = Gauge(
    "qcexec_processor_oldest_run_seconds",
    "Seconds the oldest run now in this processor's pool has lasted (0: none); a run is "
    "stopped at qcexec_processor_task_time_limit_seconds.",
    registry=PROCESSOR,
)
processor_oldest_run.set_function(RUNS.age)
processor_time_limit = Gauge(
    "qcexec_processor_task_time_limit_seconds",
    "The time limit of a run in a worker process (QC_TASK_TIME_LIMIT_MS).",
    registry=PROCESSOR,
)
processor_partition_stalls = Counter(
    "qcexec_processor_partition_stalls",
    "Partitions found unread while records waited on them and read again "
    "(processor/stalls.py; the log says which gate was shut).",
    registry=PROCESSOR,
)
processor_publish_failures = Counter(
    "qcexec_processor_publish_failures",
    "Records the processor gave up publishing (a permanent error after its retries), by "
    "record: result (the task stays pending until a replay) or dead_letter.",
    ["record"],
    registry=PROCESSOR,
)
_exported(processor_publish_failures, ("result", "dead_letter"))

# --- materializer -------------------------------------------------------------------------

materializer_records = Counter(
    "qcexec_materializer_records",
    "Records applied to the Redis view, by topic.",
    ["topic"],
    registry=MATERIALIZER,
)
materializer_write_duration = Histogram(
    "qcexec_materializer_write_seconds",
    "Time to write one batch of records to the view (Redis retries included).",
    buckets=DURATION_BUCKETS,
    registry=MATERIALIZER,
)
materializer_view_resets = Counter(
    "qcexec_materializer_view_resets",
    "Times the view had moved, lost its offsets or was older than what this materializer "
    "wrote (a Redis restored from an old snapshot): it read the log again from the view's "
    "position.",
    registry=MATERIALIZER,
)
materializer_skipped = Counter(
    "qcexec_materializer_skipped_records",
    "Records the materializer could not decode and skipped (poison records), by topic.",
    ["topic"],
    registry=MATERIALIZER,
)
materializer_lag = Gauge(
    "qcexec_consumer_lag",
    "Records of the partition not yet in the view: high watermark minus the position.",
    ["topic", "partition"],
    registry=MATERIALIZER,
)
materializer_oldest_waiting = Gauge(
    "qcexec_materializer_oldest_waiting_seconds",
    "Seconds since the submission of the oldest task the view holds as accepted and not yet "
    "terminal (the owners' backlogs, `waiting:` in Redis); 0 when there is none.",
    registry=MATERIALIZER,
)


def set_lag(gauge: Gauge, lags: dict[tuple[str, int], int]) -> None:
    """Replace every sample of a lag gauge: partitions no longer assigned disappear."""
    gauge.clear()
    for (topic, partition), lag in lags.items():
        gauge.labels(topic=topic, partition=str(partition)).set(max(lag, 0))


# --- liveness -----------------------------------------------------------------------------


class Heartbeat:
    """When the process's loop last ticked. One per process: each process has one role."""

    def __init__(self) -> None:
        self._last = time.monotonic()

    def beat(self) -> None:
        self._last = time.monotonic()

    def age(self) -> float:
        return time.monotonic() - self._last


#: Beaten by the consume loop of the processor (its event loop's timer) or the materializer.
HEARTBEAT = Heartbeat()


class MetricsServer:
    """``GET /metrics`` (the registry) and ``GET /healthz`` (200 while the heartbeat is younger
    than ``timeout_s``, else 503), served from a thread: it answers even when the event loop
    is stuck, which is what /healthz is there to tell."""

    def __init__(
        self,
        registry: CollectorRegistry,
        host: str,
        port: int,
        timeout_s: float,
        heartbeat: Heartbeat = HEARTBEAT,
    ) -> None:
        self.registry = registry
        self.timeout_s = timeout_s
        self.heartbeat = heartbeat
        self._server = ThreadingHTTPServer((host, port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="metrics-server", daemon=True
        )

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def health(self) -> tuple[int, str, bytes]:
        """(status, content type, body) of /healthz."""
        age = self.heartbeat.age()
        alive = age <= self.timeout_s
        body = {"status": "ok" if alive else "stalled", "last_tick_s": round(age, 3)}
        return (200 if alive else 503), "application/json", orjson.dumps(body)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self
        routes: dict[str, Callable[[], tuple[int, str, bytes]]] = {
            "/metrics": lambda: (200, CONTENT_TYPE_LATEST, generate_latest(server.registry)),
            "/healthz": server.health,
        }

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                route = routes.get(self.path.split("?", 1)[0])
                if route is None:
                    status, content_type, body = 404, "text/plain", b"not found\n"
                else:
                    status, content_type, body = route()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass  # scrapes and probes every few seconds are not news

        return Handler

    def start(self) -> MetricsServer:
        self.heartbeat.beat()  # start-up so far was not a stall
        self._thread.start()
        log.info("metrics and liveness on http://%s:%d", *self._server.server_address[:2])
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def serve(
    registry: CollectorRegistry, host: str, port: int, timeout_s: float
) -> MetricsServer | None:
    """Start the metrics server, or None when the port is 0 (off)."""
    if not port:
        return None
    return MetricsServer(registry, host, port, timeout_s).start()
