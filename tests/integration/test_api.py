"""The HTTP boundary in-process, against the session's real broker and Redis: guardrails and
what a client is told when the log is unavailable."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from redis.asyncio import Redis

from api.app import create_app
from deploy.processes import free_port
from runtime.settings import Settings
from runtime.topics import create_topics
from tests.helpers import BELL, settings_for
from tests.services import Services


@pytest.fixture(scope="module")
def client(real_services: Services) -> Iterator[TestClient]:
    settings = settings_for(real_services)
    asyncio.run(create_topics(settings.kafka_bootstrap_servers, settings.topics, 1))
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_accepts_bell(client: TestClient) -> None:
    response = client.post("/tasks", json={"qc": BELL, "shots": 10})
    assert response.status_code == 202
    assert client.get(response.headers["location"]).json()["state"] == "queued"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"qc": BELL, "shots": 1001}, "shots"),
        ({"qc": BELL, "shots": 0}, "shots"),
        ({"qc": BELL, "seed": -1}, "seed"),
        ({"qc": 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[5] q;\n', "shots": 10}, "qc"),
        ({"shots": 10}, "qc"),
        ({"qc": 42}, "qc"),
    ],
)
def test_guardrails_and_wrong_shapes_are_422(client: TestClient, body: dict, field: str) -> None:
    response = client.post("/tasks", json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", field]


def test_empty_program_is_400(client: TestClient) -> None:
    response = client.post("/tasks", json={"qc": ""})
    assert response.status_code == 400
    assert response.json()["detail"] == "QASM3 code is not valid"


def test_include_of_a_server_file_is_400(client: TestClient) -> None:
    program = 'OPENQASM 3.0;\ninclude "/etc/passwd";\nqubit q;\n'
    response = client.post("/tasks", json={"qc": program})
    assert response.status_code == 400
    assert "root:" not in response.text
    assert "is not allowed" in response.json()["errors"][0]["message"]


def test_body_too_large_is_413(client: TestClient) -> None:
    response = client.post("/tasks", json={"qc": BELL + "// pad\n" * 400})
    assert response.status_code == 413


def test_body_too_large_without_a_length_is_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"qc": "'
        for _ in range(100):
            yield b"x" * 100
        yield b'"}'

    response = client.post("/tasks", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_malformed_json_is_422(client: TestClient) -> None:
    response = client.post(
        "/tasks", content=b'{"qc": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


def test_broker_unreachable_is_503_with_retry_after(real_services: Services) -> None:
    settings = settings_for(
        real_services,
        kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",
        api_broker_wait_s=0.5,
        api_submit_timeout_s=1.0,
    )
    with TestClient(create_app(settings)) as unreachable:
        response = unreachable.post("/tasks", json={"qc": BELL})
        assert response.status_code == 503
        assert response.headers["retry-after"]
        assert "not accepted" in response.json()["detail"]
    # Withdrawn in the view, so that it never runs should its record reach the log anyway.
    assert _withdrawn(settings) == [{b"cancel": b"0", b"withdrawn": b"1"}]


def _withdrawn(settings: Settings) -> list[dict[bytes, bytes]]:
    async def read() -> list[dict[bytes, bytes]]:
        redis = Redis.from_url(settings.redis_url)
        try:
            keys = [key async for key in redis.scan_iter(match=f"{settings.redis_prefix}task:*")]
            return [await redis.hgetall(key) for key in keys]
        finally:
            await redis.aclose()

    return asyncio.run(read())


def test_redis_unreachable_get_is_503(real_services: Services) -> None:
    settings = settings_for(real_services, redis_port=free_port())
    with TestClient(create_app(settings)) as no_redis:
        response = no_redis.get(f"/tasks/{uuid.uuid4()}")
        assert response.status_code == 503
        assert response.headers["retry-after"]


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "broker": "ok", "redis": "ok"}


def test_not_ready_without_broker_and_redis(real_services: Services) -> None:
    settings = settings_for(
        real_services,
        kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",
        redis_port=free_port(),
        api_broker_wait_s=0.2,
    )
    with TestClient(create_app(settings)) as nothing:
        assert nothing.get("/healthz").status_code == 200
        response = nothing.get("/readyz")
        assert response.status_code == 503
        assert response.json()["broker"] == "unreachable"
        assert response.json()["redis"] == "unreachable"
