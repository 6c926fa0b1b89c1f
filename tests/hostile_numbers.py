"""Extreme numbers in every place programs and requests hold one, for
tests/faults/test_hostile_numbers.py: programs in the three languages the service reads
(OpenQASM 2, OpenQASM 3, Braket's OpenQASM 3) and request bodies around them. Each drawn
request knows whether it holds a number that is not finite as a double where it always counts
(an angle the program runs, a parameter, a coefficient, a noise probability): such a request
must be refused, or fail, and never complete."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st


@dataclass(frozen=True)
class Num:
    """A number as a program writes it (a literal or an expression), and whether it is finite
    once read as a double."""

    text: str
    finite: bool = True


def digits(n: int) -> str:
    """10**(n - 1), written out: finite as a double up to 309 digits, and past what ``int()``
    reads by default (4,300 digits) from 4,301."""
    return "1" + "0" * (n - 1)


_LITERALS = ["0", "-1", str(2**63 - 1), str(2**63), str(2**64), str(-(2**63) - 1)]
_LITERALS += ["1e308", "1e309", "1e400", "-1e400", "0.0", "-0.0", "5e-324", "1e-400"]
_EXPRESSIONS = {"1e400 - 1e400": False, "1e308 * 10": False, "pi * 1e308": False}
_EXPRESSIONS |= {"-(1e308 * 10)": False, "1e308 + 1e308": False, "1e308 / 10": True}
#: What any numeric place of a program may get instead of an ordinary value.
EXTREME = st.one_of(
    st.integers(1, 6000).map(lambda n: Num(digits(n), n <= 309)),
    st.sampled_from([Num(t, math.isfinite(float(t))) for t in _LITERALS]),
    st.sampled_from([Num(t, finite) for t, finite in _EXPRESSIONS.items()]),
)


@dataclass(frozen=True)
class Program:
    text: str
    #: An angle the program always runs is not finite.
    nonfinite: bool
    #: The factor of ``theta`` (its ``input float``) where the program runs it, if it has one.
    theta: float | None
    #: How many qubits it has, when that is an ordinary number.
    qubits: int | None


@st.composite
def programs(draw: st.DrawFn) -> Program:
    dialect = draw(st.sampled_from(["qasm2", "qasm3", "braket", "braket-physical"]))
    wild = draw(st.sampled_from([0, 0, 1, 3, 10]))  # in tenths: how often a place is extreme
    nonfinite = False

    def n(*ordinary: str) -> str:
        """An ordinary value for this place, or (wild in 10 times) an extreme one."""
        return draw(st.sampled_from(ordinary) if draw(st.integers(0, 9)) >= wild else EXTREME)

    def angle(runs: bool = True) -> str:
        nonlocal nonfinite
        chosen = draw(st.sampled_from(["0.5", "pi / 2", "-0.0", "1"]).map(Num))
        if draw(st.integers(0, 9)) < wild:
            chosen = draw(EXTREME)
        nonfinite |= runs and not chosen.finite
        return chosen.text

    def text(value: Num | str) -> str:
        return value.text if isinstance(value, Num) else value

    size = text(n("2", "3"))

    def i() -> str:
        return text(n("0", "1"))

    head: list[str] = []
    body: list[str] = []
    theta = None
    if dialect == "qasm2":
        head = ['OPENQASM 2.0;', 'include "qelib1.inc";', f"qreg q[{size}];", f"creg c[{size}];"]
        kinds = ["h", "rz", "u3", "cx", "gate", "gate-literal", "if"]
        for kind in draw(st.lists(st.sampled_from(kinds), min_size=1, max_size=5)):
            if kind == "h":
                body.append(f"h q[{i()}];")
            elif kind == "rz":
                body.append(f"rz({angle()}) q[{i()}];")
            elif kind == "u3":
                body.append(f"u3({angle()}, {angle()}, {angle()}) q[{i()}];")
            elif kind == "cx":
                body.append(f"cx q[{i()}], q[{i()}];")
            elif kind == "gate":
                head.append("gate g(t) a { rz(t) a; }")
                body.append(f"g({angle()}) q[{i()}];")
            elif kind == "gate-literal":
                head.append(f"gate k a {{ rz({angle()}) a; }}")
                body.append(f"k q[{i()}];")
            else:
                body += [f"measure q[0] -> c[{i()}];", f"if (c == {n('0', '1')}) x q[{i()}];"]
        body.append("measure q -> c;")
    elif dialect == "qasm3":
        head = ["OPENQASM 3.0;", 'include "stdgates.inc";']
        if draw(st.booleans()):
            theta = float(draw(st.sampled_from(["1", "1e300"])))
            head.append("input float theta;")
            body.append(f"ry(theta * {theta!r}) q[{i()}];")
        kinds = ["h", "rz", "cx", "U", "gate", "gate-literal", "const", "for", "if"]
        for kind in draw(st.lists(st.sampled_from(kinds), min_size=1, max_size=5)):
            if kind == "h":
                body.append(f"h q[{i()}];")
            elif kind == "rz":
                body.append(f"rz({angle()}) q[{i()}];")
            elif kind == "U":
                body.append(f"U({angle()}, {angle()}, {angle()}) q[{i()}];")
            elif kind == "cx":
                body.append(f"cx q[{i()}], q[{i()}];")
            elif kind == "gate":
                head.append("gate g(t) a { rz(t) a; }")
                body.append(f"g({angle()}) q[{i()}];")
            elif kind == "gate-literal":
                head.append(f"gate k a {{ rz({angle()}) a; }}")
                body.append(f"k q[{i()}];")
            elif kind == "const":
                head.append(f"const float x = {angle()};")
                body.append(f"rx(x) q[{i()}];")
            elif kind == "for":
                bounds = f"[{n('0', '1')}:{n('0', '2')}]"
                body.append(f"for int j in {bounds} {{ rz({angle(runs=False)}) q[{i()}]; }}")
            else:
                body += [f"c[0] = measure q[{i()}];", f"if (c[0] == {n('0', '1')}) x q[{i()}];"]
        head += [f"qubit[{size}] q;", f"bit[{size}] c;"]
        body.append("c = measure q;")
    else:  # Braket: no include; its own gates; physical qubits ($0) or a register
        head = [draw(st.sampled_from(["OPENQASM 3;", "OPENQASM 3.0;"])), f"bit[{size}] b;"]
        physical = dialect == "braket-physical"
        if not physical:
            head.append(f"qubit[{size}] q;")

        def qubit() -> str:
            return f"${n('0', '1')}" if physical else f"q[{i()}]"

        body.append(f"cnot {qubit()}, {qubit()};")
        kinds = ["h", "phaseshift", "rx", "xx", "cnot"]
        for kind in draw(st.lists(st.sampled_from(kinds), max_size=4)):
            if kind == "h":
                body.append(f"h {qubit()};")
            elif kind == "cnot":
                body.append(f"cnot {qubit()}, {qubit()};")
            elif kind == "xx":
                body.append(f"xx({angle()}) {qubit()}, {qubit()};")
            else:
                body.append(f"{kind}({angle()}) {qubit()};")
        body += [f"b[0] = measure {qubit()};", f"b[1] = measure {qubit()};"]
    qubits = int(size) if size in {"2", "3"} else None
    return Program("\n".join(head + body) + "\n", nonfinite, theta, qubits)


@dataclass(frozen=True)
class Raw:
    """A JSON number written as is (``1e400``: Python's json reads it as infinity, and no
    Python float writes it)."""

    text: str


#: Values of the request's own numeric fields: floats, integers and raw literals.
_VALUES: list[Any] = [math.nan, math.inf, -math.inf, 1e308, -1e308, -0.0, 5e-324, 0.0]
_VALUES += [2**63, 2**64, -(2**63), 10**400, -(10**400), Raw("1e400"), Raw("-1e400")]
_VALUES += [Raw("1e309"), Raw(digits(5000)), Raw("-" + digits(5000))]
EXTREME_VALUES = st.sampled_from(_VALUES)


def finite(value: Any) -> bool:
    if isinstance(value, Raw):
        return math.isfinite(float(value.text))
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


@dataclass(frozen=True)
class Request:
    body: dict[str, Any]
    #: A number in it that always counts is not finite: it must never complete.
    nonfinite: bool
    #: Its program, for the report.
    program: str


def dumps(value: Any) -> str:
    """As Python's ``json.dumps`` writes it (``NaN``, ``Infinity``), with :class:`Raw` numbers
    as written."""
    raws: dict[str, str] = {}

    def placeholders(item: Any) -> Any:
        if isinstance(item, Raw):
            raws[f"@raw{len(raws)}@"] = item.text
            return f"@raw{len(raws) - 1}@"
        if isinstance(item, dict):
            return {key: placeholders(v) for key, v in item.items()}
        if isinstance(item, list):
            return [placeholders(v) for v in item]
        return item

    text = json.dumps(placeholders(value))
    return re.sub(r'"(@raw\d+@)"', lambda found: raws[found[1]], text)


@st.composite
def requests(draw: st.DrawFn) -> Request:
    program = draw(programs())
    wild = draw(st.sampled_from([0, 0, 1, 3, 10]))
    values: list[Any] = []

    def v(*ordinary: Any) -> Any:
        chosen = draw(
            st.sampled_from(ordinary) if draw(st.integers(0, 9)) >= wild else EXTREME_VALUES
        )
        values.append(chosen)
        return chosen

    body: dict[str, Any] = {"qc": program.text}
    for name, ordinary in [("shots", (None, 10, 100)), ("seed", (None, 1, 7))]:
        extreme = [0, -1, 2**32, 2**63, 10**400, Raw(digits(5000)), math.nan, 1e308, -0.0]
        chosen = draw(st.sampled_from(ordinary) if draw(st.integers(0, 9)) >= wild else
                      st.sampled_from(extreme))
        if chosen is not None:
            body[name] = chosen
            values.append(chosen)
    overflows = False
    if program.theta is not None or draw(st.integers(0, 9)) == 0:
        names = st.sampled_from(["theta"] * 5 + ["phi"])
        points = draw(st.lists(st.dictionaries(names, st.just(0), min_size=1), min_size=1,
                               max_size=3))
        points = [{name: v(0.5, 1.0, 0, -0.5) for name in point} for point in points]
        body["parameters"] = points if len(points) > 1 or draw(st.booleans()) else points[0]
        scale = program.theta or 1.0
        overflows = any(not finite(p["theta"]) or not finite(float(p["theta"]) * scale)
                        for p in points if "theta" in p and finite(p["theta"]))
    if draw(st.integers(0, 3)) == 0:
        width = program.qubits or 2
        body["observables"] = ["Z" * width, {"X" * width: v(0.5, -1.0), "Z" * width: v(1.0)}]
    if draw(st.integers(0, 3)) == 0:
        noise = {"depolarizing": {"one_qubit": v(0.001), "two_qubit": v(0.01)}, "readout": v(0.02)}
        body["noise"] = noise
    nonfinite = program.nonfinite or overflows or not all(map(finite, values))
    return Request(body, nonfinite, program.text)


def shown(text: str, limit: int = 300) -> str:
    """Long digit runs shortened, for a readable report."""
    text = re.sub(r"\d{40,}", lambda found: f"<{len(found[0])} digits>", text)
    return text if len(text) <= limit else text[:limit] + "..."
