"""The service the client's tests run against: QCEXEC_URL (and QCEXEC_API_KEY if keys are on).
Without a URL, the tests that need a service are skipped."""

from __future__ import annotations

import os

import pytest

BELL = """OPENQASM 3.0;
include "stdgates.inc";
bit[2] c;
qubit[2] q;
h q[0];
cx q[0], q[1];
c = measure q;
"""


@pytest.fixture(scope="session")
def url() -> str:
    found = os.environ.get("QCEXEC_URL")
    if not found:
        pytest.skip("QCEXEC_URL is not set: no service to run against")
    return found


@pytest.fixture
def bell() -> str:
    return BELL
