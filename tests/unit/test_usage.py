"""The usage's pure parts (runtime/view/usage.py): the hour buckets of a window, what an
outcome tells the Lua store to count, and how an owner's hours add up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from runtime.view.usage import Usage, hour_of, hours, usage_arg

AT = datetime(2026, 12, 6, 3, 59, 59, tzinfo=UTC)


def test_hours_of_a_window_are_utc_and_include_both_ends() -> None:
    assert hour_of(AT) == "2026120603"
    # The same moment written in another offset is the same hour.
    assert hour_of(AT.astimezone(timezone(timedelta(hours=-5)))) == "2026120603"
    assert hours(AT, AT) == ["2026120603"]
    assert hours(AT - timedelta(hours=2), AT + timedelta(seconds=1)) == [
        "2026120601", "2026120602", "2026120603", "2026120604",
    ]  # fmt: skip
    assert hours(AT + timedelta(hours=1), AT) == []


def test_what_an_outcome_counts() -> None:
    assert usage_arg(AT, "completed", 1024, 12.3456) == "2026120603 completed 1024 12.346"
    assert usage_arg(AT, "cancelled", 0, 0) == "2026120603 cancelled 0 0.000"
    assert usage_arg(AT, "failed", -1, -5.0) == "2026120603 failed 0 0.000"  # never negative


def test_hours_add_up_by_state_shots_and_seconds() -> None:
    buckets = [
        {b"completed": b"3", b"shots": b"600", b"run_ms": b"12.5"},
        {},
        {b"failed": b"1", b"cancelled": b"2", b"shots": b"40", b"run_ms": b"7.5"},
    ]
    total = Usage.add_up(buckets)
    assert total.tasks == {"completed": 3, "failed": 1, "cancelled": 2}
    assert total.shots == 640 and total.run_seconds == 0.02
    assert Usage.add_up([]).tasks == {"completed": 0, "failed": 0, "cancelled": 0}
