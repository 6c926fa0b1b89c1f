"""The Kafka and Redis client options built from the settings (runtime/kafka_client.py,
runtime/redis_client.py, processor/credentials.py); against a broker and Redis that require
them: tests/integration/test_secure_transport.py."""

from __future__ import annotations

import ssl

import faust
import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from processor.credentials import broker_credentials
from runtime.kafka_client import client_options
from runtime.redis_client import redis_options
from runtime.settings import Settings


def test_plaintext_by_default() -> None:
    settings = Settings()
    assert client_options(settings) == {"security_protocol": "PLAINTEXT"}
    assert broker_credentials(settings) is None
    assert redis_options(settings) == {}


def test_sasl_ssl_options_and_the_password_stays_secret() -> None:
    settings = Settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="qcexec",
        kafka_sasl_password="pa55",
    )
    assert "pa55" not in repr(settings)
    options = client_options(settings)
    assert isinstance(options.pop("ssl_context"), ssl.SSLContext)
    assert options == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "qcexec",
        "sasl_plain_password": "pa55",
    }
    # Faust's driver turns the processor's credentials back into the same options.
    credentials = broker_credentials(settings)
    assert isinstance(credentials, faust.SASLCredentials)
    faust_options = dict(credentials_to_aiokafka_auth(credentials))
    assert isinstance(faust_options.pop("ssl_context"), ssl.SSLContext)
    assert faust_options == options


def test_sasl_without_tls_and_tls_without_sasl() -> None:
    sasl = Settings(
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_username="qcexec",
        kafka_sasl_password="pa55",
    )
    assert "ssl_context" not in client_options(sasl)
    assert client_options(sasl)["sasl_mechanism"] == "PLAIN"
    assert dict(credentials_to_aiokafka_auth(broker_credentials(sasl))) == {
        **client_options(sasl),
        "ssl_context": None,
    }
    tls = Settings(kafka_security_protocol="SSL")
    assert set(client_options(tls)) == {"security_protocol", "ssl_context"}
    assert isinstance(broker_credentials(tls), faust.SSLCredentials)


def test_sasl_needs_a_user_and_a_password() -> None:
    with pytest.raises(ValueError, match="KAFKA_SASL_USERNAME"):
        client_options(Settings(kafka_security_protocol="SASL_SSL", kafka_sasl_username="x"))


def test_redis_ca_only_over_tls() -> None:
    assert redis_options(Settings(redis_ssl_ca_certs="/ca.pem")) == {}
    settings = Settings(redis_tls=True, redis_ssl_ca_certs="/ca.pem", redis_password="pw")
    assert redis_options(settings) == {"ssl_ca_certs": "/ca.pem"}
    assert settings.redis_url.startswith("rediss://:pw@")
