"""Session fixtures: one real broker and one real Redis for the whole run (see services.py),
and the service's own processes around them (``make_stack``, ``stack``: see stack.py); a
Kafka cluster of three nodes for the modules that ask for it (``kafka_cluster``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers import BELL
from tests.services import Services, cluster_services, java_found, services
from tests.stack import MakeStack, Stack

# Test modules used to import BELL from here; tests.helpers is where it lives.
__all__ = ["BELL"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that needs the session's broker and Redis (or a cluster) is marked
    ``broker``, so that ``make test-unit`` (``-m "not broker"``) runs without them."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "real_services" in fixtures or "kafka_cluster" in fixtures:
            item.add_marker(pytest.mark.broker)


@pytest.fixture(scope="session")
def real_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    with services(tmp_path_factory.mktemp("services")) as found:
        yield found


@pytest.fixture(scope="module")
def kafka_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """Three Kafka nodes (KRaft, each broker and controller) and a Redis of their own, for the
    tests of one module; the rest of the session keeps its single broker. ``.cluster`` starts,
    stops, kills and pauses each node (deploy/broker.py, KafkaCluster)."""
    if not java_found():
        pytest.skip("a Kafka cluster needs java")
    with cluster_services(tmp_path_factory.mktemp("cluster")) as found:
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
