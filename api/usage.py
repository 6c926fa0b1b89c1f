"""``GET /usage``: what the caller used over a window: its tasks by the state they ended in,
the shots they ran and their seconds of running, counted from the log's outcomes by the hour
they came (runtime/view/usage.py), so that a view rebuilt from the log answers the same."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, BeforeValidator, Field

from api.auth import OwnerDep
from api.deps import ViewDep
from api.errors import LimitExceeded, Refused
from runtime.view.usage import MAX_WINDOW_HOURS

router = APIRouter(tags=["usage"])


def _written_as_a_date(value: object) -> object:
    """A moment written as ISO 8601, not a bare number (which pydantic would read as a Unix
    time): the parameter is documented as a date-time."""
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?[0-9.eE+-]+\s*", value):
        raise ValueError("a moment in ISO 8601 (2026-12-06T03:00:00Z), not a number")
    return value


Moment = Annotated[AwareDatetime, BeforeValidator(_written_as_a_date)]


class UsageReport(BaseModel):
    since: datetime = Field(description="The window's start, rounded down to its hour (UTC).")
    until: datetime = Field(description="The window's end (UTC), within its last hour.")
    tasks: dict[str, int] = Field(
        description="Outcomes that came in the window, by state: completed, failed, cancelled.",
        examples=[{"completed": 120, "failed": 2, "cancelled": 1}],
    )
    shots: int = Field(description="Shots of those outcomes (0 for a task that never ran).")
    run_seconds: float = Field(
        description="Their seconds of running, as each result's duration_ms says (for small "
        "tasks run together in one hop, each counts the whole hop's)."
    )


@router.get(
    "/usage",
    operation_id="get_usage",
    response_model=UsageReport,
    responses={422: {"description": "A window backwards, or longer than 31 days."}},
    summary="What the caller used over a window",
    description="With API keys, the key's own; counted by the hour each outcome came (UTC): "
    "`since` is rounded down to its hour. The last 24 hours unless given.",
)
async def usage(
    view: ViewDep,
    owner: OwnerDep,
    since: Annotated[Moment | None, Query(description="Start (ISO 8601 with its offset).")] = None,
    until: Annotated[
        Moment | None, Query(description="End (ISO 8601 with its offset); now if absent.")
    ] = None,
) -> JSONResponse:
    try:  # a moment near year 1 or 9999 may have no UTC twin, or no day before it
        end = (until or datetime.now(UTC)).astimezone(UTC)
        start = (since or end - timedelta(hours=24)).astimezone(UTC)
    except OverflowError:
        raise Refused("until" if until else "since", "out of range", loc="query") from None
    start = start.replace(minute=0, second=0, microsecond=0)
    if start > end:
        raise Refused("since", "the window must start before it ends", loc="query")
    if end - start > timedelta(hours=MAX_WINDOW_HOURS):
        raise LimitExceeded(
            "until", f"a window may span at most {MAX_WINDOW_HOURS // 24} days", loc="query"
        )
    found = await view.usage(owner, start, end)
    report = UsageReport(
        since=start, until=end, tasks=found.tasks, shots=found.shots, run_seconds=found.run_seconds
    )
    return JSONResponse(report.model_dump(mode="json"))
