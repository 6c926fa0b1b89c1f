"""Session fixtures: one real broker and one real Redis for the whole run (see services.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.services import Services, services
from tests.stack import Stack

BELL = """OPENQASM 3.0;
include "stdgates.inc";
bit[2] c;
qubit[2] q;
h q[0];
cx q[0], q[1];
c[0] = measure q[0];
c[1] = measure q[1];
"""


@pytest.fixture(scope="session")
def real_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    with services(tmp_path_factory.mktemp("services")) as found:
        yield found


@pytest.fixture(scope="module")
def stack(real_services: Services, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A running API, processor and materializer, shared by the tests of one module."""
    running = Stack(real_services, tmp_path_factory.mktemp("stack")).start()
    yield running
    running.stop()


@pytest.fixture
def bell() -> str:
    return BELL
