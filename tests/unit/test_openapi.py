"""The committed ``openapi.json`` is the contract the API serves, and every operation has the
stable ``operationId`` that generated clients name their methods by."""

from __future__ import annotations

import orjson
from fastapi.testclient import TestClient

from api.app import create_app
from api.openapi import OPENAPI, rendered
from runtime.settings import Settings

OPERATIONS = {
    ("post", "/tasks"): "submit_task",
    ("post", "/tasks/batch"): "submit_batch",
    ("get", "/tasks"): "list_tasks",
    ("get", "/tasks/{task_id}"): "get_task",
    ("post", "/tasks/{task_id}/cancel"): "cancel_task",
    ("get", "/healthz"): "healthz",
    ("get", "/readyz"): "readyz",
    ("get", "/devices"): "list_devices",
    ("post", "/tasks/estimate"): "estimate_task",
    ("get", "/usage"): "get_usage",
}


def test_committed_openapi_is_what_the_app_serves() -> None:
    assert OPENAPI.exists(), "openapi.json missing: run python -m api.openapi"
    assert OPENAPI.read_bytes() == rendered(), "openapi.json is stale: run python -m api.openapi"
    # Served without the lifespan: /openapi.json needs neither the broker nor Redis.
    served = TestClient(create_app(Settings())).get("/openapi.json").json()
    assert served == orjson.loads(OPENAPI.read_bytes())


def test_every_operation_has_its_stable_operation_id() -> None:
    paths = orjson.loads(OPENAPI.read_bytes())["paths"]
    found = {
        (method, path): operation.get("operationId")
        for path, methods in paths.items()
        for method, operation in methods.items()
    }
    assert found == OPERATIONS
