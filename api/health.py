"""Liveness and readiness, for orchestrators and load balancers."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError

from api.deps import SubmissionsDep, ViewDep

router = APIRouter(tags=["health"])


@router.get(
    "/healthz",
    operation_id="healthz",
    summary="Liveness: the process answers",
    description="Always 200 while the process serves; restart it when this fails.",
)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    operation_id="readyz",
    summary="Readiness: the broker and Redis are reachable",
    description="200 when both answer; 503 otherwise, so a load balancer sends no traffic.",
    responses={503: {"description": "The broker or Redis is not reachable."}},
)
async def readyz(submissions: SubmissionsDep, view: ViewDep) -> JSONResponse:
    try:
        redis_ok = bool(await view.redis.ping())
    except (RedisError, OSError):
        redis_ok = False
    broker_ok = await submissions.reachable()
    checks = {
        "broker": "ok" if broker_ok else "unreachable",
        "redis": "ok" if redis_ok else "unreachable",
    }
    ready = broker_ok and redis_ok
    return JSONResponse(
        {"status": "ready" if ready else "not ready", **checks}, status_code=200 if ready else 503
    )
