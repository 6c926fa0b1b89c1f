"""Every number a client sends is checked where it enters (programs.numbers, the request and
record models): huge integer literals and non-finite floats in every language are a refusal
with the place, never a parser's ``ValueError`` (a 500) or an infinite angle run as a program
(a wrong answer); and every request the API accepts becomes a record that decodes (a property
over requests with extreme numbers, not only examples)."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from api.errors import LimitExceeded
from api.intake import submission
from api.models import TaskRequest
from programs.errors import ProgramError
from programs.front import read_program
from programs.numbers import check_bound_finite, check_literals
from programs.workers import ProgramReader
from runtime.settings import Settings
from schemas.events import TaskSubmitted
from tests.reading import GENEROUS

H3 = 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nbit[2] c;\n'
H2 = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\n'
BRAKET = "OPENQASM 3;\nqubit[2] q;\nbit[2] c;\n"
DIGITS = "9" * 5000

#: Programs that today's parsers would crash on or run wrongly, and where the refusal points.
REFUSED = {
    "OpenQASM 2 register": (f'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[{DIGITS}];', (3, 8)),
    "OpenQASM 3 register": (f"OPENQASM 3.0;\nqubit[{DIGITS}] q;", (2, 7)),
    "angle of digits": (H3 + f"rz({DIGITS}) q[0];", (5, 4)),
    "for range bound": (H3 + f"for int i in [0:{DIGITS}] {{ x q[0]; }}", (5, 17)),
    "if comparison": (H3 + f"c = measure q;\nif (c[0] == {DIGITS}) x q[0];", (6, 13)),
    "index": (H3 + f"x q[{DIGITS}];", (5, 5)),
    "physical qubit": (BRAKET + f"x ${DIGITS};", (4, 4)),
    "2^63": (H3 + "x q[9223372036854775808];", (5, 5)),
    "hex over 64 bits": (H3 + "x q[0x1FFFFFFFFFFFFFFFF];", (5, 5)),
    "1e400": (H3 + "rz(1e400) q[0];\nc = measure q;", (5, 4)),
    "1e400 - 1e400": (H3 + "rz(1e400 - 1e400) q[0];\nc = measure q;", (5, 4)),
    "in a gate definition": (H3 + "gate g a { rz(-1e999) a; }\ng q[0];\nc = measure q;", (5, 16)),
    "OpenQASM 2 angle": (H2 + "rz(1e309) q[0];\nmeasure q -> c;", (5, 4)),
    "folded": (H3 + "rz(1e308 * 10) q[0];\nc = measure q;", None),
    "folded with pi": (H3 + "rz(pi * 1e308) q[0];\nc = measure q;", None),
    "folded in a definition": (
        H3 + "gate g a { rz(1e308 * 1e308) a; }\ng q[0];\nc = measure q;",
        None,
    ),
    "folded in OpenQASM 2": (H2 + "rz(1e308*10) q[0];\nmeasure q -> c;", None),
    "folded in Braket": (BRAKET + "phaseshift(1e308 * 10) q[0];\nc = measure q;", None),
}


@pytest.mark.parametrize("name", REFUSED)
def test_a_hostile_number_is_refused_with_its_place(name: str) -> None:
    text, where = REFUSED[name]
    with pytest.raises(ProgramError) as caught:
        read_program(text, GENEROUS)
    assert caught.value.code == "invalid_program"
    if where is not None:
        assert (caught.value.line, caught.value.column) == where, str(caught.value)
        assert "too large" in caught.value.message or "not finite" in caught.value.message


def test_numbers_in_comments_and_strings_and_ordinary_ones_are_read() -> None:
    check_literals('// 1e400 and 99999999999999999999\n/* 1e999 */ include "1e999.inc";')
    text = H3 + "rz(-0.0) q[0];\nrz(5e-324) q[1];\nrz(1.5e308) q[0];\nx q[1_0 - 9];\nc = measure q;"
    circuit = read_program(text, GENEROUS).circuit
    angles = [i.operation.params[0] for i in circuit.data if i.operation.name == "rz"]
    assert angles[:2] == [0.0, 5e-324] and math.copysign(1, angles[0]) == -1


def test_an_input_that_overflows_at_a_point_is_refused_at_that_point() -> None:
    text = H3 + "input float theta;\nrz(theta * 1e300) q[0];\nc = measure q;"
    circuit = read_program(text, GENEROUS).circuit
    check_bound_finite(circuit, [{"theta": 1.0}])
    with pytest.raises(ProgramError, match=r"point 1: .* not a finite number"):
        check_bound_finite(circuit, [{"theta": 1.0}, {"theta": 1e10}])


@pytest.mark.parametrize(
    "body",
    [
        {"parameters": {"theta": math.nan}},
        {"parameters": {"theta": math.inf}},
        {"parameters": [{"theta": 0.5}, {"theta": -math.inf}]},
        {"observables": [{"ZZ": math.nan}]},
        {"noise": {"depolarizing": {"one_qubit": math.nan}}},
        {"noise": {"readout": math.inf}},
        {"parameters": {"theta": 10**400}},
    ],
)
def test_json_nan_and_infinity_are_refused_at_the_door(body: dict) -> None:
    raw = json.loads(json.dumps({"qc": H3, **body}))  # NaN and Infinity as json.dumps writes
    with pytest.raises(ValidationError, match=r"finite number|valid number"):
        TaskRequest.model_validate(raw)


# --- the property: what the API accepts decodes -------------------------------------------

EXTREME = (
    st.sampled_from(
        [0.0, -0.0, 5e-324, 1e-300, 1.0, -2.5, 1e308, -1e308, math.nan, math.inf, -math.inf]
    )
    | st.floats()
    | st.integers(min_value=-(10**30), max_value=10**30)
)
PROGRAM = H3 + "input float theta;\nrz(theta) q[0];\ncx q[0], q[1];\nc = measure q;\n"


@pytest.fixture(scope="module")
def reader() -> Iterator[ProgramReader]:
    made = ProgramReader(Settings().limits, workers=1, time_limit_s=10, memory_mb=3072)
    made.warm_up()
    yield made
    made.close()


@given(
    theta=st.one_of(EXTREME, st.lists(EXTREME, min_size=1, max_size=4)),
    coefficient=EXTREME,
    shots=st.one_of(st.none(), st.integers(min_value=-5, max_value=10**6), st.just(10**40)),
    seed=st.one_of(st.none(), st.integers(min_value=-5, max_value=2**40)),
    noise=st.one_of(st.none(), EXTREME),
)
@settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_every_request_the_api_accepts_becomes_a_record_that_decodes(
    reader: ProgramReader, theta, coefficient, shots, seed, noise
) -> None:
    parameters = (
        [{"theta": value} for value in theta] if isinstance(theta, list) else {"theta": theta}
    )
    body: dict = {"qc": PROGRAM, "parameters": parameters, "observables": [{"ZZ": coefficient}]}
    if shots is not None:
        body["shots"] = shots
    if seed is not None:
        body["seed"] = seed
    if noise is not None:
        body["noise"] = {"depolarizing": {"one_qubit": noise}}
    try:
        request = TaskRequest.model_validate(json.loads(json.dumps(body)))
        event = asyncio.run(submission(request, Settings(), reader, None))
    except (ValidationError, LimitExceeded, ProgramError):
        return  # refused at the door: a 422 or a 400
    assert TaskSubmitted.decode(event.encode()) == event
