"""A single-node Apache Kafka broker (KRaft) that clients reach only with credentials over TLS
(SASL_SSL), as a shared cluster is set up, for the tests of the service's Kafka settings
(KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, KAFKA_SSL_CAFILE).

The clients' listener is SASL_SSL with SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN; the broker's
certificate comes from deploy/certificates.py. The SCRAM users are created when the storage is
formatted (``kafka-storage format --add-scram``), the PLAIN users are in the listener's JAAS
configuration. The controller's listener (KRaft's quorum, which serves no client's produce or
fetch) is PLAINTEXT on the loopback address: KRaft controllers do not take SCRAM. Started from
the same jars as deploy/broker.py.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.helpers import create_ssl_context

from deploy.broker import ensure_kafka_jars, new_cluster_id, storage_tool, tuning
from deploy.certificates import Certificates
from deploy.processes import LOCALHOST, ManagedProcess, free_port

DEPLOY_DIR = Path(__file__).resolve().parent
#: The broker's own user, for its inter-broker listener (the same SASL_SSL listener).
BROKER_USER = "broker"
SCRAM_MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512")
MECHANISMS = (*SCRAM_MECHANISMS, "PLAIN")
# A local broker: the serial collector and C1 only start it sooner (see deploy/broker.py).
_JVM_FLAGS = [
    "-Xms256m", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
    "-Djava.awt.headless=true",
]  # fmt: skip


class SecureKafkaBroker(ManagedProcess):
    """A one-node KRaft broker with a SASL_SSL listener for clients.

    ``users`` maps each user name to its password, for every mechanism. ``data_dir`` holds
    server.properties, broker.log and the log directory ``data/``; the storage (and so the SCRAM
    users) is formatted on the first start only.
    """

    def __init__(
        self,
        data_dir: Path,
        certificates: Certificates,
        users: Mapping[str, str],
        port: int | None = None,
        controller_port: int | None = None,
        *,
        host: str = LOCALHOST,
        libs: Path | None = None,
    ) -> None:
        for name, password in users.items():
            # --add-scram's syntax and the JAAS file have no escapes: keep to plain tokens.
            if not all(c.isalnum() or c in "-_." for c in name + password) or not password:
                raise ValueError(f"user {name!r}: names and passwords are [A-Za-z0-9._-]+")
        self.data_dir = Path(data_dir).resolve()
        self.certificates = certificates
        self.users = {**users, BROKER_USER: secrets.token_urlsafe(18)}
        self.host = host
        self.port = port or free_port(host)
        self.controller_port = controller_port or free_port(host)
        self.libs = libs or ensure_kafka_jars()
        java = shutil.which("java")
        if java is None:
            raise RuntimeError("java not found: install a JDK 17 (apt-get install openjdk-17-jdk)")
        log4j = DEPLOY_DIR / "kafka" / "log4j.properties"
        self._java = [
            java,
            *_JVM_FLAGS,
            *([f"-Dlog4j.configuration=file:{log4j}"] if log4j.exists() else []),
            "-cp",
            f"{self.libs}/*",
        ]
        self.config_path = self.data_dir / "server.properties"
        super().__init__(
            "kafka-sasl-ssl",
            [*self._java, "kafka.Kafka", str(self.config_path)],
            log_path=self.data_dir / "broker.log",
        )

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def client_env(self, user: str, mechanism: str = "SCRAM-SHA-256") -> dict[str, str]:
        """The service's settings (as environment variables) to connect as ``user``."""
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "KAFKA_SASL_MECHANISM": mechanism,
            "KAFKA_SASL_USERNAME": user,
            "KAFKA_SASL_PASSWORD": self.users[user],
            "KAFKA_SSL_CAFILE": str(self.certificates.ca),
        }

    def _client_options(self) -> dict[str, Any]:
        """aiokafka's options as the broker's own user (for the readiness probe)."""
        return {
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-256",
            "sasl_plain_username": BROKER_USER,
            "sasl_plain_password": self.users[BROKER_USER],
            "ssl_context": create_ssl_context(cafile=str(self.certificates.ca)),
        }

    def _prepare(self) -> None:
        log_dir = self.data_dir / "data"
        log_dir.mkdir(parents=True, exist_ok=True)
        controller = f"{self.host}:{self.controller_port}"
        broker_password = self.users[BROKER_USER]
        scram_login = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{BROKER_USER}" password="{broker_password}";'
        )
        plain_users = " ".join(f'user_{name}="{pw}"' for name, pw in self.users.items())
        plain_login = (
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'username="{BROKER_USER}" password="{broker_password}" {plain_users};'
        )
        certificates = self.certificates
        settings = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{controller}",
            "listeners": f"SASL_SSL://{self.bootstrap},CONTROLLER://{controller}",
            "advertised.listeners": f"SASL_SSL://{self.bootstrap}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "SASL_SSL",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL",
            "sasl.enabled.mechanisms": ",".join(MECHANISMS),
            "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-256",
            "listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config": scram_login,
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": scram_login,
            "listener.name.sasl_ssl.plain.sasl.jaas.config": plain_login,
            "ssl.keystore.type": "PKCS12",
            "ssl.keystore.location": str(certificates.keystore),
            "ssl.keystore.password": certificates.password,
            "ssl.key.password": certificates.password,
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(certificates.ca),
            "ssl.client.auth": "none",
            "log.dirs": str(log_dir),
            **tuning(internal_replication=1),
        }
        self.config_path.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
        if not (log_dir / "meta.properties").exists():
            scram = [
                arg
                for mechanism in SCRAM_MECHANISMS
                for name, password in self.users.items()
                for arg in ("--add-scram", f"{mechanism}=[name={name},password={password}]")
            ]
            storage_tool(
                self._java, "format", "-t", new_cluster_id(), "-c", str(self.config_path), *scram
            )

    def _probe(self) -> None:
        with socket.create_connection((self.host, self.port), timeout=1):
            pass
        asyncio.run(_check_broker_registered(self.bootstrap, self._client_options()))


async def _check_broker_registered(bootstrap: str, options: Mapping[str, Any]) -> None:
    """Raise unless the broker authenticates us and lists itself (unfenced) in its metadata."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000, **options)
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
    finally:
        await admin.close()
    if not cluster["brokers"]:
        raise RuntimeError("no unfenced broker in the metadata yet")
