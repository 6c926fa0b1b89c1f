"""Fuzz the HTTP API from its own OpenAPI document (schemathesis), with requests that match
it and requests that break it: whatever a client sends,
the answer is never a 5xx, and it matches what the document promises (status codes, content
types, response shapes). A bounded run; the QASM validator has its own fuzzing with hypothesis
in tests/unit/test_qasm.py."""

from __future__ import annotations

import itertools

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.stack import Stack

EXAMPLES_PER_OPERATION = 40
#: A program can match the schema (a string) and still not be OpenQASM 3: its 400 is right.
NOT_CHECKED = [positive_data_acceptance]


def test_the_api_answers_every_generated_request_as_documented(stack: Stack) -> None:
    schema = schemathesis.openapi.from_url(f"{stack.url}/openapi.json")
    operations = [found.ok() for found in schema.get_all_operations()]
    assert len(operations) >= 6
    for operation, mode in itertools.product(operations, GenerationMode):

        @given(case=operation.as_strategy(mode))
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def answers(case: schemathesis.Case) -> None:
            case.call_and_validate(excluded_checks=NOT_CHECKED)

        try:
            answers()
        except Unsatisfiable:
            # Nothing to break: the operation takes no parameters and no body.
            assert mode is GenerationMode.NEGATIVE, operation.label
    print(
        f"\nfuzzed {len(operations)} operations, up to {EXAMPLES_PER_OPERATION} valid and "
        f"{EXAMPLES_PER_OPERATION} invalid requests each: no 5xx, all as documented"
    )
