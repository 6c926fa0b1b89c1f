"""The processor's Faust app connects as every other Kafka client of the service does
(runtime/kafka_client.py): the same options, as Faust's ``broker_credentials``."""

from __future__ import annotations

import faust
from faust.types.auth import CredentialsT

from runtime.kafka_client import SASL_PROTOCOLS, client_options
from runtime.settings import Settings


def broker_credentials(settings: Settings) -> CredentialsT | None:
    """Faust's credentials for the settings; None for PLAINTEXT.

    Faust's aiokafka driver turns them back into the same ``security_protocol``,
    ``sasl_mechanism`` (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512), ``sasl_plain_username``,
    ``sasl_plain_password`` and ``ssl_context`` arguments for its consumer, its producer and the
    producer's client that creates topics; SASL over TLS is SASL_SSL because a context is given.
    """
    options = client_options(settings)
    protocol = options["security_protocol"]
    if protocol in SASL_PROTOCOLS:
        return faust.SASLCredentials(
            username=options["sasl_plain_username"],
            password=options["sasl_plain_password"],
            mechanism=options["sasl_mechanism"],
            ssl_context=options.get("ssl_context"),
        )
    if protocol == "SSL":
        return faust.SSLCredentials(options["ssl_context"])
    return None
