"""How every role connects to Redis: the URL with its credentials (REDIS_PASSWORD,
REDIS_USERNAME), TLS (REDIS_TLS) and the CA that Redis's certificate is checked against
(REDIS_SSL_CA_CERTS)."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from runtime.settings import Settings


def redis_options(settings: Settings) -> dict[str, Any]:
    """The keyword arguments of ``Redis.from_url(settings.redis_url, ...)`` (sync or asyncio)
    beyond what the URL says: the CA file, over TLS."""
    if settings.redis_tls and settings.redis_ssl_ca_certs:
        return {"ssl_ca_certs": settings.redis_ssl_ca_certs}
    return {}


def redis_client(settings: Settings) -> Redis:
    """The service's Redis client (asyncio), as the settings say."""
    return Redis.from_url(settings.redis_url, **redis_options(settings))
