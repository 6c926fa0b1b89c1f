"""Credentials a shared deployment needs: a Redis that requires a password (the services
connect with REDIS_PASSWORD, and a client without it is refused), and API keys held as
secrets (never printed with the settings) and compared in constant time."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from api.auth import known_key
from deploy.redis_server import RedisServer
from runtime.settings import Settings
from tests.helpers import BELL
from tests.services import Services
from tests.stack import MakeStack

PASSWORD = "s3cret-redis-pass"


@pytest.fixture(scope="module")
def locked_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"), password=PASSWORD)
    server.start()
    server.wait_ready(timeout=30)
    yield server
    server.stop()


def test_the_stack_runs_on_a_redis_that_requires_a_password(
    real_services: Services, locked_redis: RedisServer, make_stack: MakeStack
) -> None:
    with (
        redis.Redis(locked_redis.host, locked_redis.port) as anonymous,
        pytest.raises(redis.exceptions.AuthenticationError),
    ):
        anonymous.ping()  # the server does require it
    stack = make_stack(
        services=Services(real_services.kafka_bootstrap, locked_redis.url),
        REDIS_PASSWORD=PASSWORD,
    )
    task_id = stack.submit(BELL, shots=20, seed=3)
    assert stack.wait_terminal(task_id)["status"] == "completed"


def test_api_keys_are_secrets_compared_in_constant_time() -> None:
    settings = Settings(api_keys="alice-key, bob-key", redis_password=PASSWORD)
    assert "alice-key" not in repr(settings) and PASSWORD not in repr(settings)
    assert settings.api_key_set == {"alice-key", "bob-key"}
    assert known_key("bob-key", settings.api_key_set)
    assert not known_key("bob-ke", settings.api_key_set)
    assert not known_key("", settings.api_key_set)
    assert f":{PASSWORD}@" in settings.redis_url
