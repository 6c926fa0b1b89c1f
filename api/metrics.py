"""``GET /metrics`` and the middleware that counts and times every request by route template."""

from __future__ import annotations

import time

from fastapi import APIRouter, FastAPI
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runtime import metrics
from runtime.logsetup import task_context

router = APIRouter(include_in_schema=False)

#: The route label of a request that matched no route (a 404 for an unknown path).
UNMATCHED = "unmatched"


@router.get("/metrics")
async def prometheus_metrics() -> Response:
    return Response(generate_latest(metrics.API), media_type=CONTENT_TYPE_LATEST)


def route_template(app: FastAPI, scope: Scope) -> str:
    """The path template of the route a request matched (``/tasks/{task_id}``), never the
    path itself, so that the label has few values."""
    route = scope.get("route")
    if route is not None and hasattr(route, "path"):
        return route.path
    for candidate in app.router.routes:  # answered before routing (413, 401): match it here
        match, _ = candidate.matches(scope)
        if match == Match.FULL and hasattr(candidate, "path"):
            return candidate.path
    return UNMATCHED


class RequestMetrics:
    """Outermost middleware: counts every answer (413s from the body limit too) by method,
    route template and status code, and times it. The access log line of a request about a
    task (``/tasks/{task_id}...``) gets its ``task_id``."""

    def __init__(self, app: ASGIApp, fastapi_app: FastAPI) -> None:
        self.app = app
        self.fastapi_app = fastapi_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] != "http.response.start":
                await send(message)
                return
            status = message["status"]
            task_id = scope.get("path_params", {}).get("task_id")
            if not task_id:
                await send(message)
                return
            with task_context(task_id):  # the access log line is about that task
                await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            method, route = scope["method"], route_template(self.fastapi_app, scope)
            metrics.api_requests.labels(method=method, route=route, code=str(status)).inc()
            metrics.api_request_duration.labels(method=method, route=route).observe(
                time.perf_counter() - start
            )
