"""API keys and the per-key rate limit (a token bucket in Redis, shared by every API
instance). With no keys configured the API is open and unlimited, for development."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Annotated

from fastapi import Depends, Request
from redis.asyncio import Redis
from redis.exceptions import RedisError

from api.deps import SettingsDep
from api.errors import RateLimited, ServiceUnavailable, Unauthorized

# KEYS: the bucket. ARGV: refill per second, burst, now (ms). Returns {allowed, wait ms}.
_TAKE = """
local rate, burst, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(bucket[1]) or burst
local at = tonumber(bucket[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
local allowed, wait = 0, 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return {allowed, wait}
"""


def known_key(token: str, keys: frozenset[str]) -> bool:
    """Whether ``token`` is one of ``keys``, compared in constant time with every key (no
    early exit, no comparison that stops at the first differing byte), so that the time of
    an answer tells nothing of a key."""
    found = False
    given = token.encode()
    for key in keys:
        found |= hmac.compare_digest(given, key.encode())
    return found


def owner_of(key: str) -> str:
    """The id a task's owner is known by: a digest, so that no key is stored or logged."""
    return hashlib.sha256(key.encode()).hexdigest()[:24]


class RateLimiter:
    def __init__(self, redis: Redis, prefix: str, per_s: float, burst: int) -> None:
        self._take = redis.register_script(_TAKE)
        self.prefix = prefix
        self.per_s = per_s
        self.burst = burst

    async def take(self, owner: str) -> None:
        now_ms = int(time.time() * 1000)
        allowed, wait_ms = await self._take(
            keys=[f"{self.prefix}ratelimit:{owner}"], args=[self.per_s, self.burst, now_ms]
        )
        if not allowed:
            raise RateLimited(max(1, -(-int(wait_ms) // 1000)))


async def _owner(request: Request, settings: SettingsDep) -> str | None:
    keys = settings.api_key_set
    if not keys:
        return None
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not known_key(token.strip(), keys):
        raise Unauthorized()
    owner = owner_of(token.strip())
    try:
        await request.app.state.rate_limiter.take(owner)
    except (RedisError, OSError) as exc:
        raise ServiceUnavailable("the rate limiter is unavailable") from exc
    return owner


#: The caller's owner id (None when the API is open); answers 401 and 429 on the way.
OwnerDep = Annotated[str | None, Depends(_owner)]
