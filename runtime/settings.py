"""One settings model for every role (API, processor, materializer, CLI).

Built by each entry point (app factory, worker main, CLI command), never at import time.
Environment variable names follow the original service where it had one (REDIS_HOST,
API_PORT, QC_TASK_DEFAULT_SHOTS, ...).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from programs.limits import Limits
from runtime.compression import Codec
from schemas.topics import Topics


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # Shared state: the log and Redis.
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT",
        description="How every Kafka client connects: TLS (SSL), SASL, both (SASL_SSL) or "
        "neither (runtime/kafka_client.py).",
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        default="PLAIN", description="The SASL mechanism, with SASL_*."
    )
    kafka_sasl_username: str = Field(default="", description="The SASL user, with SASL_*.")
    kafka_sasl_password: SecretStr = Field(
        default=SecretStr(""), description="The SASL user's password, with SASL_* (a secret)."
    )
    kafka_ssl_cafile: str = Field(
        default="",
        description="PEM file of the CA(s) the broker's certificate is checked against, with "
        "SSL and SASL_SSL; empty: the system's CAs.",
    )
    kafka_ssl_certfile: str = Field(
        default="", description="PEM client certificate (mutual TLS), with SSL and SASL_SSL."
    )
    kafka_ssl_keyfile: str = Field(
        default="", description="PEM private key of KAFKA_SSL_CERTFILE (if not in that file)."
    )
    redis_host: str = "127.0.0.1"
    redis_port: int = 6379
    redis_db: int = 0
    redis_password: SecretStr = Field(
        default=SecretStr(""), description="Redis's password (AUTH); empty: none."
    )
    redis_username: str = Field(default="", description="Redis's ACL user; empty: default.")
    redis_tls: bool = Field(default=False, description="Connect to Redis over TLS (rediss://).")
    redis_ssl_ca_certs: str = Field(
        default="",
        description="PEM file of the CA(s) Redis's certificate is checked against, with "
        "REDIS_TLS; empty: the system's CAs.",
    )
    redis_prefix: str = Field(default="qc:", description="Prefix of every Redis key of the view.")
    redis_result_ttl: int = Field(
        default=0,
        description="Seconds a task stays in the view; 0 keeps it (the log keeps it too).",
    )
    qc_topic_prefix: str = Field(default="", description="Prefix of every topic name.")
    qc_topic_partitions: int = 6
    qc_topic_replication: int = Field(
        default=1, ge=1, description="Replicas of each topic at creation (3 on a real cluster)."
    )

    # API.
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_max_request_bytes: int = 256 * 1024
    api_access_log: bool = Field(
        default=False,
        description="A log line per HTTP request (uvicorn's access log). Off by default: the "
        "request metrics count every answer, and the line costs the API's one core.",
    )
    api_broker_wait_s: float = Field(
        default=10.0, description="How long API start-up waits for the broker (503s after that)."
    )
    api_submit_timeout_s: float = Field(
        default=5.0, description="Longest wait for the broker's acknowledgement before a 503."
    )

    api_keys: SecretStr = Field(
        default=SecretStr(""),
        description="Comma-separated API keys; empty leaves the API open. A secret: never "
        "logged or shown (the settings print it as '**********').",
    )
    api_rate_limit_per_s: float = Field(default=50.0, description="Requests per second per key.")
    api_rate_limit_burst: int = Field(default=100, description="Requests a key may burst.")
    api_idempotency_ttl_s: int = Field(default=24 * 3600, description="Life of Idempotency-Key.")
    api_max_batch: int = Field(default=100, description="Most tasks in one batch submission.")
    api_max_wait_s: float = Field(default=30.0, description="Longest long-poll of a GET.")
    api_estimate_calibration: Path | None = Field(
        default=None,
        description="The dry run's run-time model fitted on this machine (the file `make "
        "bench` writes: tests/perf/out/calibration.json); unset: the coefficients fitted on "
        "the development machine.",
    )
    api_owner_max_waiting: int = Field(
        default=4000,
        ge=0,
        description="Tasks one owner (API key) may have accepted and not yet ended; past it a "
        "submission is a 429 with Retry-After, so that no client queues more than the "
        "processors' schedulers can look past. 0: no bound.",
    )
    api_owner_waiting_expiry_s: float = Field(
        default=3600.0,
        gt=0,
        description="A task older than this no longer counts in its owner's backlog (its "
        "outcome may have left the view).",
    )

    # Tasks and guardrails.
    qc_task_default_shots: int = 1024
    qc_task_max_shots: int = 100_000
    qc_task_max_qubits: int = Field(
        default=28, description="Qubits with methods statevector and automatic."
    )
    qc_density_matrix_max_qubits: int = Field(
        default=14, description="Qubits with method density_matrix (its memory grows as 4^n)."
    )
    qc_mps_max_qubits: int = Field(
        default=100, description="Qubits with method matrix_product_state."
    )
    qc_stabilizer_max_qubits: int = Field(default=1000, description="Qubits with stabilizer.")
    qc_extended_stabilizer_max_qubits: int = Field(
        default=63, description="Qubits with method extended_stabilizer."
    )
    qc_statevector_output_max_qubits: int = Field(
        default=12,
        description="Most qubits of a circuit whose statevector is asked as an output (2^n "
        "amplitudes per point, on the log).",
    )
    qc_task_max_operations: int = 100_000
    qc_task_max_program_bytes: int = 128 * 1024
    qc_task_time_limit_ms: int = 300_000
    qc_task_max_memory_mb: int = 4096
    qc_task_max_points: int = Field(
        default=1000, ge=1, description="Most points in one parameter sweep."
    )
    qc_max_record_bytes: int = Field(
        default=1_048_576,
        ge=65_536,
        description="Largest record the service writes: the topics' max.message.bytes (at "
        "creation) and the producers' max_request_size. A result that would be larger fails "
        "with limit_exceeded; raise it together with the broker's message.max.bytes. With "
        "QC_COMPRESSION, it counts a record as the broker keeps it: compressed.",
    )
    qc_compression: Codec = Field(
        default=Codec.ZSTD,
        description="How the producers compress the records they write: zstd (brokers of Kafka "
        "2.1 or later, checked at start), gzip, or none (runtime/compression.py).",
    )
    qc_max_result_bytes: int = Field(
        default=8 * 1_048_576,
        ge=65_536,
        description="Largest result before compression (the producers' max_request_size, "
        "which aiokafka checks before compressing), so that a result that compresses well "
        "may be larger than QC_MAX_RECORD_BYTES; with QC_COMPRESSION=none, "
        "QC_MAX_RECORD_BYTES is the bound.",
    )

    # Reading programs (the program front end), in the API's worker processes.
    qc_parse_time_limit_ms: int = Field(
        default=10_000, gt=0, description="Longest a program may take to read; 422 after it."
    )
    qc_parse_memory_mb: int = Field(
        default=3072,
        ge=0,
        description="Address space of each program reader process (about 1.4 GB of it is the "
        "parsers' own code and threads); 0: no limit.",
    )
    qc_parse_workers: int = Field(
        default_factory=lambda: os.cpu_count() or 1, ge=1, description="Program readers."
    )
    qc_parse_inline_bytes: int = Field(
        default=4096,
        ge=0,
        description="A program this small, with no definitions or loops, that the Rust parsers "
        "read, is read in the API's own process (a fraction of a millisecond); 0: never.",
    )
    qc_parse_worker_nice: int = Field(
        default=5, ge=0, le=19, description="How much lower the readers' CPU priority is."
    )

    # The command-line tool (qcexec submit/status).
    qcexec_url: str = Field(default="http://127.0.0.1:8000", description="The API qcexec calls.")
    qcexec_api_key: str = Field(default="", description="API key qcexec sends, if any.")

    # Processor.
    processor_id: str = "qcexec-processor"
    processor_workers: int = Field(default_factory=lambda: os.cpu_count() or 1)
    processor_lookahead: int = Field(
        default=4096,
        ge=1,
        description="Records the scheduler holds past the head of its partitions, to choose "
        "from (docs/scheduler.md).",
    )
    processor_lookahead_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1,
        description="Most bytes of record values in the look-ahead (at least one record).",
    )
    processor_batch_max: int = Field(
        default=32, ge=1, description="Most small tasks in one hop to a worker."
    )
    processor_heavy_work: int = Field(
        default=2**26,
        ge=1,
        description="Work (amplitude-operations: programs.weight) from which a task is heavy: "
        "it runs alone, on at most PROCESSOR_HEAVY_SLOTS workers.",
    )
    processor_heavy_slots: int = Field(
        default=0,
        ge=0,
        description="Workers heavy tasks may hold at once; 0: all but one (one when there is "
        "one), so that a small task always finds a worker soon.",
    )
    processor_fair_half_life_s: float = Field(
        default=5.0,
        gt=0,
        description="Half-life of an owner's recent work, by which the scheduler shares the "
        "workers: the owner with the least work running or recently run goes first.",
    )
    processor_worker_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="How much lower the simulator workers' CPU priority is: simulations yield "
        "to the processor's event loop (consuming, heartbeats) and to what shares the machine.",
    )
    processor_worker_memory_mb: int = Field(
        default=0,
        ge=0,
        description="Address space of each simulator worker; 0: QC_TASK_MAX_MEMORY_MB plus "
        "2048 for the simulator's own code and threads.",
    )
    processor_data_dir: str = Field(
        default="",
        description="Faust's data directory. The processor keeps no tables there; empty: one "
        "under the system's temporary directory, named after PROCESSOR_ID.",
    )
    materializer_group: str = "qcexec-materializer"

    # Observability (docs/operations.md, "Observe"). Traces use the standard OTEL_* variables.
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto",
        description="json: one JSON object per line; text: for people; auto: text on a "
        "terminal, json otherwise (containers, files, pipes).",
    )
    log_level: str = "INFO"
    metrics_host: str = Field(
        default="127.0.0.1", description="Where the processor and materializer serve metrics."
    )
    processor_metrics_port: int = Field(
        default=0, ge=0, description="Processor's /metrics and /healthz port; 0: none."
    )
    materializer_metrics_port: int = Field(
        default=0, ge=0, description="Materializer's /metrics and /healthz port; 0: none."
    )
    liveness_timeout_s: float = Field(
        default=60.0, gt=0, description="/healthz fails when the loop has not ticked for longer."
    )
    traces_file: str = Field(
        default="", description="Also append every finished span to this file, as JSON lines."
    )

    @property
    def max_result_bytes(self) -> int:
        """The largest result before compression: QC_MAX_RECORD_BYTES when nothing is
        compressed, else QC_MAX_RESULT_BYTES (and never less than QC_MAX_RECORD_BYTES)."""
        if self.qc_compression is Codec.NONE:
            return self.qc_max_record_bytes
        return max(self.qc_max_result_bytes, self.qc_max_record_bytes)

    @property
    def topics(self) -> Topics:
        return Topics.with_prefix(self.qc_topic_prefix)

    @property
    def limits(self) -> Limits:
        return Limits(
            max_qubits=self.qc_task_max_qubits,
            max_shots=self.qc_task_max_shots,
            max_operations=self.qc_task_max_operations,
            max_program_bytes=self.qc_task_max_program_bytes,
            method_qubits={
                "automatic": self.qc_task_max_qubits,
                "statevector": self.qc_task_max_qubits,
                "density_matrix": self.qc_density_matrix_max_qubits,
                "matrix_product_state": self.qc_mps_max_qubits,
                "stabilizer": self.qc_stabilizer_max_qubits,
                "extended_stabilizer": self.qc_extended_stabilizer_max_qubits,
            },
        )

    @property
    def worker_memory_mb(self) -> int:
        return self.processor_worker_memory_mb or self.qc_task_max_memory_mb + 2048

    @property
    def api_key_set(self) -> frozenset[str]:
        keys = self.api_keys.get_secret_value().split(",")
        return frozenset(key.strip() for key in keys if key.strip())

    @property
    def redis_url(self) -> str:
        """Where Redis is, with its credentials when it has some (never log this)."""
        scheme = "rediss" if self.redis_tls else "redis"
        password = self.redis_password.get_secret_value()
        credentials = ""
        if password:
            user = quote(self.redis_username, safe="")
            credentials = f"{user}:{quote(password, safe='')}@"
        return f"{scheme}://{credentials}{self.redis_host}:{self.redis_port}/{self.redis_db}"

    @property
    def processor_data_path(self) -> Path:
        if self.processor_data_dir:
            return Path(self.processor_data_dir)
        return Path(tempfile.gettempdir()) / f"{self.processor_id}-data"

    @property
    def heavy_slots(self) -> int:
        return self.processor_heavy_slots or max(1, self.processor_workers - 1)
