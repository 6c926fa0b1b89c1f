"""Session fixtures: one real broker and one real Redis for the whole run (see services.py),
and the service's own processes around them (``make_stack``, ``stack``: see stack.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers import BELL
from tests.services import Services, services
from tests.stack import MakeStack, Stack

# Test modules used to import BELL from here; tests.helpers is where it lives.
__all__ = ["BELL"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that needs the session's broker and Redis is marked ``broker``, so that
    ``make test-unit`` (``-m "not broker"``) runs without them."""
    for item in items:
        if "real_services" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.broker)


@pytest.fixture(scope="session")
def real_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    with services(tmp_path_factory.mktemp("services")) as found:
        yield found


@pytest.fixture(scope="module")
def make_stack(
    real_services: Services, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MakeStack]:
    """Start a stack of API, processors and materializer: ``make_stack(**env)`` with settings
    as environment variables, ``processors`` (1 unless given; 0 leaves tasks queued) and
    ``services`` (another broker or Redis than the session's). Each stack started is stopped
    at the end of the module."""
    started: list[Stack] = []

    def make(*, processors: int = 1, services: Services | None = None, **env: str) -> Stack:
        stack = Stack(services or real_services, tmp_path_factory.mktemp("stack"), **env)
        started.append(stack)
        return stack.start(processors=processors)

    yield make
    for stack in reversed(started):
        stack.stop()


@pytest.fixture(scope="module")
def stack(make_stack: MakeStack) -> Stack:
    """A running API, processor and materializer, shared by the tests of one module."""
    return make_stack()


@pytest.fixture
def bell() -> str:
    return BELL
