"""How every Kafka client of the service connects: the security protocol, SASL credentials and
TLS from the settings (KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, KAFKA_SSL_*), as the keyword
arguments aiokafka's clients take.

Every producer, consumer and admin client the service makes (the API's, the processor's control
table, the materializer's, the operator's tools', the topic creation) passes
``**client_options(settings)``; the processor's Faust app gets the same options as its
``broker_credentials`` (processor/credentials.py).
"""

from __future__ import annotations

import ssl
from typing import Any

from aiokafka.helpers import create_ssl_context

from runtime.settings import Settings

TLS_PROTOCOLS = frozenset({"SSL", "SASL_SSL"})
SASL_PROTOCOLS = frozenset({"SASL_PLAINTEXT", "SASL_SSL"})


def client_options(settings: Settings) -> dict[str, Any]:
    """The keyword arguments of AIOKafkaProducer, AIOKafkaConsumer and AIOKafkaAdminClient
    that connect them as the settings say (not ``bootstrap_servers``): ``security_protocol``,
    and with it ``ssl_context`` and the SASL mechanism, user and password. Holds the password:
    never log it."""
    protocol = settings.kafka_security_protocol
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol in TLS_PROTOCOLS:
        options["ssl_context"] = ssl_context(settings)
    if protocol in SASL_PROTOCOLS:
        password = settings.kafka_sasl_password.get_secret_value()
        if not settings.kafka_sasl_username or not password:
            raise ValueError(
                f"KAFKA_SECURITY_PROTOCOL={protocol} needs KAFKA_SASL_USERNAME and "
                "KAFKA_SASL_PASSWORD"
            )
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = password
    return options


def ssl_context(settings: Settings) -> ssl.SSLContext:
    """A client TLS context that checks the broker's certificate and host name against
    KAFKA_SSL_CAFILE (the system's CAs without it), with a client certificate if one is set."""
    return create_ssl_context(
        cafile=settings.kafka_ssl_cafile or None,
        certfile=settings.kafka_ssl_certfile or None,
        keyfile=settings.kafka_ssl_keyfile or None,
    )
