"""The service on a cluster that requires credentials and TLS: a Kafka broker whose only client
listener is SASL_SSL (SCRAM users, a certificate from a CA of the test's own) and a Redis that
speaks only TLS and requires a password. Every role, the operator's tools and the tests' own
clients connect with the settings KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, KAFKA_SSL_CAFILE,
REDIS_PASSWORD, REDIS_TLS and REDIS_SSL_CA_CERTS; a client without them is refused."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import redis
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from deploy.certificates import Certificates, make_certificates
from deploy.redis_server import RedisServer
from deploy.secure_broker import SecureKafkaBroker
from runtime.kafka_client import client_options
from runtime.redis_client import redis_options
from runtime.settings import Settings
from tests.helpers import BELL
from tests.services import Services
from tests.stack import Stack

# Needs the Kafka jars, java and redis-server, as the session's broker does (make test-unit
# leaves it out).
pytestmark = pytest.mark.broker

USER, PASSWORD = "qcexec", "kafka-s3cret-pass"
REDIS_PASSWORD = "redis-s3cret-pass"


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def secure_broker(
    tmp_path_factory: pytest.TempPathFactory, certificates: Certificates
) -> Iterator[SecureKafkaBroker]:
    broker = SecureKafkaBroker(tmp_path_factory.mktemp("kafka"), certificates, {USER: PASSWORD})
    broker.start()
    try:
        broker.wait_ready(timeout=120)
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="module")
def secure_redis(
    tmp_path_factory: pytest.TempPathFactory, certificates: Certificates
) -> Iterator[RedisServer]:
    server = RedisServer(
        tmp_path_factory.mktemp("redis"), password=REDIS_PASSWORD, tls=certificates
    )
    server.start()
    try:
        server.wait_ready(timeout=30)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def env(
    secure_broker: SecureKafkaBroker, secure_redis: RedisServer, certificates: Certificates
) -> dict[str, str]:
    """The settings every process of the service gets, as environment variables."""
    return {
        **secure_broker.client_env(USER, "SCRAM-SHA-256"),
        "REDIS_HOST": secure_redis.host,
        "REDIS_PORT": str(secure_redis.port),
        "REDIS_PASSWORD": REDIS_PASSWORD,
        "REDIS_TLS": "true",
        "REDIS_SSL_CA_CERTS": str(certificates.ca),
    }


@pytest.fixture(scope="module")
def secure_stack(
    secure_broker: SecureKafkaBroker,
    secure_redis: RedisServer,
    env: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    services = Services(secure_broker.bootstrap, secure_redis.url)
    # Stack.start creates the topics with runtime.topics and the stack's settings.
    stack = Stack(services, tmp_path_factory.mktemp("stack"), **env)
    try:
        yield stack.start()
    finally:
        stack.stop()


def _settings(env: Mapping[str, str], **changes: str) -> Settings:
    """The settings of ``env`` (as environment variables) with ``changes``, and nothing else."""
    values = {**env, **changes}
    return Settings.model_validate({key.lower(): value for key, value in values.items()})


async def _describe(bootstrap: str, options: Mapping[str, Any]) -> dict[str, Any]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000, **options)
    try:
        await admin.start()
        return await admin.describe_cluster()
    finally:
        await admin.close()


def test_a_bell_task_runs_over_sasl_ssl_and_redis_tls(secure_stack: Stack) -> None:
    task_id = secure_stack.submit(BELL, shots=100, seed=11)  # asserts the 202
    done = secure_stack.wait_terminal(task_id)
    assert done["status"] == "completed", done
    counts = done["result"]
    assert set(counts) <= {"00", "11"} and sum(counts.values()) == 100


def test_the_operators_tools_use_the_same_settings(secure_stack: Stack) -> None:
    """`qcexec topics create` and `qcexec rebuild-view` (the log through SASL_SSL, the view
    through TLS) with the stack's settings."""

    def qcexec(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "ops", *args],
            env=secure_stack.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    topics = qcexec("topics", "create")
    assert f"{secure_stack.topics.submitted}: exists" in topics, topics
    task_id = secure_stack.submit(BELL, shots=10, seed=2)
    assert secure_stack.wait_terminal(task_id)["status"] == "completed"
    rebuilt = qcexec("rebuild-view")
    assert "is active" in rebuilt, rebuilt
    assert secure_stack.status(task_id)["status"] == "completed"


def test_clients_without_the_credentials_are_refused(
    secure_broker: SecureKafkaBroker,
    secure_redis: RedisServer,
    env: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    bootstrap = secure_broker.bootstrap
    # The settings do connect, with every mechanism the broker offers...
    for mechanism in ("SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"):
        options = client_options(_settings(env, KAFKA_SASL_MECHANISM=mechanism))
        cluster = asyncio.run(_describe(bootstrap, options))
        assert [broker["port"] for broker in cluster["brokers"]] == [secure_broker.port]
    # ... and without them, or with a wrong password, or a CA that did not sign the broker's
    # certificate (the system's), the broker is not reached.
    refused = {
        "plaintext": {"KAFKA_SECURITY_PROTOCOL": "PLAINTEXT"},
        "tls without sasl": {"KAFKA_SECURITY_PROTOCOL": "SSL"},
        "sasl without tls": {"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"},
        "wrong password": {"KAFKA_SASL_PASSWORD": "not-the-password"},
        "system CAs": {"KAFKA_SSL_CAFILE": ""},
    }
    for what, changes in refused.items():
        options = client_options(_settings(env, **changes))
        with caplog.at_level(logging.ERROR, logger="aiokafka"):
            caplog.clear()
            with pytest.raises(KafkaError):
                asyncio.run(_describe(bootstrap, options))
        if what == "wrong password":
            assert "SaslAuthenticationFailed" in caplog.text, caplog.text
        if what == "system CAs":
            assert "CERTIFICATE_VERIFY_FAILED" in caplog.text, caplog.text

    # Redis: the settings connect; without TLS, without the password, or with the system's
    # CAs, not.
    settings = _settings(env)
    with redis.Redis.from_url(settings.redis_url, **redis_options(settings)) as client:
        assert client.ping()
    anonymous = _settings(env, REDIS_PASSWORD="")
    with (
        redis.Redis.from_url(anonymous.redis_url, **redis_options(anonymous)) as client,
        pytest.raises(redis.exceptions.AuthenticationError),
    ):
        client.ping()
    for changes in ({"REDIS_TLS": "false"}, {"REDIS_SSL_CA_CERTS": ""}):
        other = _settings(env, **changes)
        with (
            redis.Redis.from_url(other.redis_url, **redis_options(other)) as client,
            pytest.raises(redis.exceptions.ConnectionError),
        ):
            client.ping()
