"""Extreme numbers, in every place a program or a request holds one, never break the service.

Numbers are where the parsers and the models meet Python's own limits: ``int()`` refuses more
than 4,300 digits (an unexpected ``ValueError``, a 500), a float literal past the largest double
reads as infinity (an angle a simulator runs into a wrong answer, not an error), ``json.loads``
reads ``NaN`` and ``Infinity`` (which Python's ``json.dumps`` writes) and pydantic lets them
into float fields, and a record holding one is not JSON for whatever reads the log next.

So, a grammar-aware fuzz of the HTTP API (tests/hostile_numbers.py draws the requests):
programs in OpenQASM 2, OpenQASM 3 and Braket's OpenQASM 3 with integers of up to 6,000 digits,
2**63, 1e400, ``1e400 - 1e400``, ``pi * 1e308``... as register sizes, indices, angles, loop
bounds, comparisons and physical qubits, and requests whose shots, seed, parameters, observables
and noise are NaN, Infinity, 1e400 or huge, alone and in batches. Whatever comes:

- every answer is a 202, 200, 400 or 422, as JSON without NaN or Infinity in it;
- every accepted task ends (completed, failed or cancelled): none is left queued;
- a task with a number that is not finite where it counts (an angle it runs, a value, a
  coefficient, a probability) never completes;
- a request with nothing extreme in it is accepted and completes (refusing all cannot pass).

The requests are collected and checked together (every fault found is reported, each with its
smallest program), after every accepted task has had the time to end. Then the cases found by
hand, each with its right answer.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.helpers import BELL, TERMINAL
from tests.hostile_numbers import Request, digits, dumps, requests, shown
from tests.stack import Stack

#: Requests sent alone, and batches (of one to four) sent to /tasks/batch.
SINGLE_EXAMPLES = 150
BATCH_EXAMPLES = 25
#: After the last submission, for every accepted task to end (they take milliseconds each).
SETTLE_S = 90
ANSWERS = {200, 202, 400, 422}
JSON = {"Content-Type": "application/json"}
SEND = {**JSON, "Connection": "close"}
FUZZ = settings(
    deadline=None,
    database=None,
    derandomize=True,  # the same requests every run: a fault found is found again
    suppress_health_check=list(HealthCheck),
    phases=[Phase.generate],  # nothing raises inside: everything is checked at the end
)


def strict_json(text: str) -> Any:
    """The answer as JSON, which has no NaN or Infinity (Python's parser reads them)."""

    def refuse(token: str) -> float:
        raise ValueError(f"{token} is not JSON")

    return json.loads(text, parse_constant=refuse)


@dataclass
class Sent:
    """A request and its answer; ``request`` is None for a batch answered as a whole."""

    request: Request | None
    body: Any
    route: str
    status: int
    answer: str
    task_id: str | None = None
    state: str | None = None


def post(client: httpx.Client, route: str, body: object) -> httpx.Response:
    """On a connection of its own, so that no answer is blamed on the request before it; a
    connection the API drops is an answer too (status 0)."""
    try:
        return client.post(route, content=dumps(body), headers=SEND)
    except httpx.TransportError as exc:
        return httpx.Response(0, text=f"no answer: {exc!r}")


def send(client: httpx.Client, request: Request) -> list[Sent]:
    response = post(client, "/tasks", request.body)
    task_id = response.json()["task_id"] if response.status_code in (200, 202) else None
    return [Sent(request, request.body, "/tasks", response.status_code, response.text, task_id)]


def send_batch(client: httpx.Client, batch: list[Request]) -> list[Sent]:
    body = {"tasks": [request.body for request in batch]}
    response = post(client, "/tasks/batch", body)
    if response.status_code not in (202, 400):
        return [Sent(None, body, "/tasks/batch", response.status_code, response.text)]
    items = response.json()["tasks"]
    assert len(items) == len(batch), response.text
    return [
        Sent(r, r.body, "/tasks/batch", 202, response.text, item["task_id"])
        if "task_id" in item
        else Sent(r, r.body, "/tasks/batch item", item["error"]["status"], json.dumps(item))
        for r, item in zip(batch, items, strict=True)
    ]


def settle(client: httpx.Client, accepted: list[Sent], timeout: float) -> None:
    """Poll each accepted task until it ends or ``timeout`` has passed; sets ``state``."""
    pending = {sent.task_id: sent for sent in accepted}
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for task_id, sent in list(pending.items()):
            response = client.get(f"/tasks/{task_id}")
            sent.state = f"GET answered {response.status_code}: {shown(response.text, 100)}"
            if response.status_code == 200:
                with contextlib.suppress(ValueError):
                    sent.state = strict_json(response.text)["state"]
            if sent.state in TERMINAL or sent.state.startswith("GET"):
                del pending[task_id]
        time.sleep(0.5 if pending else 0)


def not_json(text: str) -> bool:
    try:
        strict_json(text)
    except ValueError:
        return True
    return False


def faults(what: str, found: list[Sent]) -> list[str]:
    """A line for a kind of fault, and the smallest requests that show it."""
    found = sorted(found, key=lambda sent: len(dumps(sent.body)))
    examples = [
        f"  {s.route} {s.status} {s.state or ''}: {shown(dumps(s.body))}\n"
        f"    -> {shown(s.answer, 160)}"
        for s in found[:3]
    ]
    return [f"{len(found)} {what}, e.g.:\n" + "\n".join(examples)] if found else []


def test_extreme_numbers_never_break_the_service(stack: Stack) -> None:
    sent: list[Sent] = []
    with httpx.Client(base_url=stack.url, timeout=120) as client:

        @settings(FUZZ, max_examples=SINGLE_EXAMPLES)
        @given(request=requests())
        def alone(request: Request) -> None:
            sent.extend(send(client, request))

        @settings(FUZZ, max_examples=BATCH_EXAMPLES)
        @given(batch=st.lists(requests(), min_size=1, max_size=4))
        def batched(batch: list[Request]) -> None:
            sent.extend(send_batch(client, batch))

        alone()
        batched()
        accepted = [s for s in sent if s.task_id is not None]
        settle(client, accepted, SETTLE_S)

    requests_ = [s.request for s in sent if s.request is not None]
    print(
        f"\nsent {SINGLE_EXAMPLES} requests alone and {BATCH_EXAMPLES} batches; of the "
        f"{len(requests_)} requests answered one by one, {sum(r.ordinary for r in requests_)} "
        f"had nothing extreme, {sum(r.nonfinite for r in requests_)} a non-finite number; "
        f"answers {dict(sorted(Counter(s.status for s in sent).items()))}; accepted tasks "
        f"ended {dict(Counter(s.state for s in accepted))}"
    )
    problems = [
        *faults("answers not 202/200/400/422", [s for s in sent if s.status not in ANSWERS]),
        *faults(
            "answers not JSON", [s for s in sent if s.status in ANSWERS and not_json(s.answer)]
        ),
        *faults("accepted tasks never ended", [s for s in accepted if s.state not in TERMINAL]),
        *faults(
            "tasks completed with a non-finite number",
            [s for s in accepted if s.request and s.request.nonfinite and s.state == "completed"],
        ),
        *faults(
            "requests with nothing extreme not completed",
            [s for s in sent if s.request and s.request.ordinary and s.state != "completed"],
        ),
    ]
    assert not problems, "\n".join(problems)


HUGE = digits(5000)  # past what int() reads (4,300 digits)
Q2 = 'OPENQASM 2.0;\ninclude "qelib1.inc";\n'
Q3 = 'OPENQASM 3.0;\ninclude "stdgates.inc";\n'
THETA = Q3 + "input float theta;\nqubit[1] q;\nbit[1] c;\nry(theta) q[0];\nc = measure q;\n"


def q3(*lines: str, defining: str = "") -> str:
    body = "\n".join(lines)
    return f"{Q3}{defining}qubit[1] q;\nbit[1] c;\n{body}\nc = measure q;\n"


def q2(*lines: str) -> str:
    return Q2 + "qreg q[1];\ncreg c[1];\n" + "\n".join(lines) + "\nmeasure q -> c;\n"


REFUSED = {400, 422}
INVALID = {422}
#: Refused, or (a 202) its task fails: it never completes.
REFUSED_OR_FAILS = {400, 422, 202}
INVALID_OR_FAILS = {422, 202}
CASES = [
    pytest.param(
        {"qc": Q2 + f"qreg q[{HUGE}];\ncreg c[1];\n"}, REFUSED, id="qasm2-qreg-5000-digits"
    ),
    pytest.param({"qc": Q3 + f"qubit[{HUGE}] q;\n"}, REFUSED, id="qubit-register-5000-digits"),
    pytest.param({"qc": q3(f"rz({HUGE}) q[0];")}, REFUSED, id="angle-5000-digits"),
    pytest.param(
        {"qc": q3(f"for int i in [0:{HUGE}] {{ x q[0]; }}")}, REFUSED, id="loop-bound-5000-digits"
    ),
    pytest.param(
        {"qc": q3("c[0] = measure q[0];", f"if (c[0] == {HUGE}) x q[0];")},
        REFUSED,
        id="if-constant-5000-digits",
    ),
    pytest.param({"qc": q3(f"x q[{HUGE}];")}, REFUSED, id="index-5000-digits"),
    pytest.param({"qc": q2(f"x q[{HUGE}];")}, REFUSED, id="qasm2-index-5000-digits"),
    pytest.param(
        {"qc": f"OPENQASM 3;\nbit[1] b;\nx ${HUGE};\nb[0] = measure $0;\n"},
        REFUSED,
        id="physical-qubit-5000-digits",
    ),
    pytest.param({"qc": q3("rz(1e400) q[0];")}, REFUSED, id="angle-1e400"),
    pytest.param({"qc": q2("rz(1e400) q[0];")}, REFUSED, id="qasm2-angle-1e400"),
    pytest.param(
        {"qc": "OPENQASM 3;\nbit[1] b;\nrx(1e400) $0;\nb[0] = measure $0;\n"},
        REFUSED,
        id="braket-angle-1e400",
    ),
    pytest.param(
        {"qc": q3("rz(1e400 - 1e400) q[0];")}, REFUSED_OR_FAILS, id="angle-1e400-minus-1e400"
    ),
    pytest.param({"qc": q3("rz(pi * 1e308) q[0];")}, REFUSED_OR_FAILS, id="angle-pi-times-1e308"),
    pytest.param(
        {"qc": q3("g q[0];", defining="gate g a { rz(1e400) a; }\n")},
        REFUSED,
        id="gate-definition-1e400",
    ),
    pytest.param(
        {"qc": q3("g q[0];", defining="gate g a { rz(1e308 * 10) a; }\n")},
        REFUSED_OR_FAILS,
        id="gate-definition-1e308-times-10",
    ),
    pytest.param(
        {"qc": BELL, "noise": {"depolarizing": {"one_qubit": math.nan}}}, INVALID, id="noise-nan"
    ),
    pytest.param({"qc": BELL, "noise": {"readout": math.inf}}, INVALID, id="readout-infinity"),
    pytest.param(
        {"qc": THETA, "parameters": {"theta": math.nan}}, INVALID_OR_FAILS, id="parameter-nan"
    ),
    pytest.param(
        {"qc": THETA, "parameters": {"theta": math.inf}}, INVALID_OR_FAILS, id="parameter-infinity"
    ),
    pytest.param(
        {"qc": THETA, "parameters": [{"theta": 0.5}, {"theta": math.nan}]},
        INVALID_OR_FAILS,
        id="sweep-point-nan",
    ),
    pytest.param(
        {"qc": BELL, "observables": [{"ZZ": math.nan}]}, INVALID, id="observable-coefficient-nan"
    ),
]


@pytest.mark.parametrize(("body", "answers"), CASES)
def test_an_extreme_number_is_refused_or_fails(stack: Stack, body: dict, answers: set[int]) -> None:
    response = stack.client.post("/tasks", content=dumps(body), headers=SEND)
    assert response.status_code in answers, (response.status_code, shown(response.text))
    strict_json(response.text)
    if response.status_code == 202:  # accepted: it must end failed, never complete or stay
        final = stack.wait_terminal(response.json()["task_id"], timeout=60)
        assert final["state"] == "failed", final
