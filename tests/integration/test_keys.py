"""API keys: 401 without one, tasks private to the key that submitted them, and a per-key
rate limit answered with 429 and Retry-After (in-process API, real broker and Redis)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from runtime.topics import create_topics
from tests.helpers import BELL, settings_for
from tests.services import Services

ALICE = {"Authorization": "Bearer alice-key"}
BOB = {"Authorization": "Bearer bob-key"}


@pytest.fixture(scope="module")
def client(real_services: Services) -> Iterator[TestClient]:
    settings = settings_for(
        real_services,
        api_keys="alice-key, bob-key",
        api_rate_limit_per_s=0.5,
        api_rate_limit_burst=8,
    )
    asyncio.run(create_topics(settings.kafka_bootstrap_servers, settings.topics, 1))
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_requests_without_a_valid_key_are_401(client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "alice-key"}):
        response = client.post("/tasks", json={"qc": BELL}, headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
    assert client.get("/healthz").status_code == 200  # probes need no key


def test_a_task_belongs_to_the_key_that_submitted_it(client: TestClient) -> None:
    task_id = client.post("/tasks", json={"qc": BELL}, headers=ALICE).json()["task_id"]
    assert client.get(f"/tasks/{task_id}", headers=ALICE).status_code == 200
    other = client.get(f"/tasks/{task_id}", headers=BOB)
    assert other.status_code == 404
    assert other.json() == {"status": "error", "message": "Task not found."}
    assert client.post(f"/tasks/{task_id}/cancel", headers=BOB).status_code == 404
    listed = client.get("/tasks", headers=BOB).json()["tasks"]
    assert task_id not in {t["task_id"] for t in listed}
    assert task_id in {t["task_id"] for t in client.get("/tasks", headers=ALICE).json()["tasks"]}


def test_rate_limit_answers_429_with_retry_after(client: TestClient) -> None:
    codes = [client.get("/tasks/x", headers=BOB).status_code for _ in range(12)]
    assert 429 in codes
    assert codes[0] == 404
    limited = client.get("/tasks/x", headers=BOB)
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
