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
    #: Every number in it was drawn ordinary: a valid program, which must complete.
    ordinary: bool
    #: An angle it always runs is not finite.
    nonfinite: bool
    #: The factor of ``theta`` (its ``input float``) where it runs it, if it has that input.
    theta: float | None
    #: Its qubits, when their number is an ordinary one.
    qubits: int | None
    #: It measures before its end (observables then need not be estimable).
    measures_midway: bool


#: In tenths: how often a program's (or a request's) numeric places are extreme.
WILD = st.sampled_from([0, 0, 1, 3, 10])


@st.composite
def programs(draw: st.DrawFn) -> Program:
    dialect = draw(st.sampled_from(["qasm2", "qasm3", "braket", "braket-physical"]))
    wild = draw(WILD)
    seen = {"extreme": False, "nonfinite": False, "midway": False}

    def n(*ordinary: str) -> str:
        """An ordinary value for this place, or (wild in 10 times) an extreme one."""
        if draw(st.integers(0, 9)) >= wild:
            return draw(st.sampled_from(ordinary))
        seen["extreme"] = True
        return draw(EXTREME).text

    def angle(runs: bool = True) -> str:
        if draw(st.integers(0, 9)) >= wild:
            return draw(st.sampled_from(["0.5", "pi / 2", "-0.0", "1"]))
        chosen = draw(EXTREME)
        seen["extreme"] = True
        seen["nonfinite"] |= runs and not chosen.finite
        return chosen.text

    size = n("2", "3")
    body: list[str] = []
    theta = None
    if dialect in {"qasm2", "qasm3"}:
        v3 = dialect == "qasm3"
        head = ["OPENQASM 3.0;", 'include "stdgates.inc";'] if v3 else ["OPENQASM 2.0;"]
        head += [] if v3 else ['include "qelib1.inc";', f"qreg q[{size}];", f"creg c[{size}];"]
        if v3 and draw(st.booleans()):
            theta = float(draw(st.sampled_from(["1", "1e300"])))
            head.append("input float theta;")
            body.append(f"ry(theta * {theta!r}) q[{n('0', '1')}];")
        kinds = ["h", "rz", "U", "cx", "gate", "gate-literal", "if"]
        kinds += ["const", "for"] if v3 else []
        for kind in draw(st.lists(st.sampled_from(kinds), min_size=1, max_size=5)):
            name = f"g{len(head)}"
            if kind == "h":
                body.append(f"h q[{n('0', '1')}];")
            elif kind == "rz":
                body.append(f"rz({angle()}) q[{n('0', '1')}];")
            elif kind == "U":
                gate = "U" if v3 else "u3"
                body.append(f"{gate}({angle()}, {angle()}, {angle()}) q[{n('0', '1')}];")
            elif kind == "cx":
                body.append(f"cx q[{n('0')}], q[{n('1')}];")
            elif kind == "gate":
                head.append(f"gate {name}(t) a {{ rz(t) a; }}")
                body.append(f"{name}({angle()}) q[{n('0', '1')}];")
            elif kind == "gate-literal":
                head.append(f"gate {name} a {{ rz({angle()}) a; }}")
                body.append(f"{name} q[{n('0', '1')}];")
            elif kind == "const":
                head.append(f"const float {name} = {angle()};")
                body.append(f"rx({name}) q[{n('0', '1')}];")
            elif kind == "for":
                bounds = f"[{n('0')}:{n('1', '2')}]"
                body.append(
                    f"for int j in {bounds} {{ rz({angle(runs=False)}) q[{n('0', '1')}]; }}"
                )
            else:
                seen["midway"] = True
                index, bit = n("0", "1"), n("0", "1")
                body.append(f"c[0] = measure q[{index}];" if v3 else f"measure q[{index}] -> c[0];")
                body.append(f"if ({'c[0]' if v3 else 'c'} == {bit}) x q[{n('0', '1')}];")
        head += [f"qubit[{size}] q;", f"bit[{size}] c;"] if v3 else []
        body.append("c = measure q;" if v3 else "measure q -> c;")
    else:  # Braket's: no include, its own gates, physical qubits ($0) or a register
        head = [draw(st.sampled_from(["OPENQASM 3;", "OPENQASM 3.0;"])), f"bit[{size}] b;"]
        physical = dialect == "braket-physical"
        head += [] if physical else [f"qubit[{size}] q;"]

        def qubit(*ordinary: str) -> str:
            return f"${n(*ordinary)}" if physical else f"q[{n(*ordinary)}]"

        body.append(f"cnot {qubit('0')}, {qubit('1')};")
        for kind in draw(st.lists(st.sampled_from(["h", "phaseshift", "rx", "xx"]), max_size=4)):
            if kind == "h":
                body.append(f"h {qubit('0', '1')};")
            elif kind == "xx":
                body.append(f"xx({angle()}) {qubit('0')}, {qubit('1')};")
            else:
                body.append(f"{kind}({angle()}) {qubit('0', '1')};")
        body += [f"b[0] = measure {qubit('0')};", f"b[1] = measure {qubit('1')};"]
    return Program(
        "\n".join(head + body) + "\n",
        ordinary=not seen["extreme"],
        nonfinite=seen["nonfinite"],
        theta=theta,
        qubits=2 if dialect == "braket-physical" else int(size) if size in {"2", "3"} else None,
        measures_midway=seen["midway"],
    )


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
    """Whether a value of the request is a finite double once read (10**400 is not)."""
    if isinstance(value, Raw):
        return math.isfinite(float(value.text))
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


@dataclass(frozen=True)
class Request:
    body: dict[str, Any]
    #: Nothing in it is extreme, and its fields fit its program: it must complete.
    ordinary: bool
    #: A number in it that always counts is not finite: it must never complete.
    nonfinite: bool


def dumps(value: Any) -> str:
    """As Python's ``json.dumps`` writes it (``NaN``, ``Infinity``), with :class:`Raw` numbers
    as written."""
    raws: dict[str, str] = {}

    def placeholders(item: Any) -> Any:
        if isinstance(item, Raw):
            key = f"@raw{len(raws)}@"
            raws[key] = item.text
            return key
        if isinstance(item, dict):
            return {key: placeholders(v) for key, v in item.items()}
        if isinstance(item, list):
            return [placeholders(v) for v in item]
        return item

    text = json.dumps(placeholders(value))
    return re.sub(r'"(@raw\d+@)"', lambda found: raws[found[1]], text)


@st.composite
def requests(draw: st.DrawFn) -> Request:
    """A body for POST /tasks: a program, and shots, seed, parameters, observables and noise
    (each ordinary, extreme or absent)."""
    program = draw(programs())
    wild = draw(WILD)
    values: list[Any] = []
    extreme_drawn = False

    def v(*ordinary: Any, extreme: st.SearchStrategy[Any] = EXTREME_VALUES) -> Any:
        """An ordinary value, or (wild in 10 times) an extreme one; None: no such field."""
        nonlocal extreme_drawn
        if draw(st.integers(0, 9)) >= wild:
            value = draw(st.sampled_from(ordinary))
        else:
            value, extreme_drawn = draw(extreme), True
        values.append(value)
        return value

    body: dict[str, Any] = {"qc": program.text}
    for name in ["shots", "seed"]:
        value = v(None, 10, 100, extreme=EXTREME_VALUES | st.sampled_from([0, -1, 2**32]))
        if value is not None:
            body[name] = value
    overflows, stray = False, program.theta is not None
    if program.theta is not None or draw(st.integers(0, 9)) == 0:
        names = st.lists(st.sampled_from(["theta"] * 5 + ["phi"]), min_size=1, unique=True)
        points = [
            {key: v(0.5, 1, -0.0) for key in draw(names)} for _ in range(draw(st.integers(1, 3)))
        ]
        body["parameters"] = points if len(points) > 1 or draw(st.booleans()) else points[0]
        stray = program.theta is None or any(set(point) != {"theta"} for point in points)
        scale = program.theta or 1.0
        thetas = [point["theta"] for point in points if "theta" in point]
        overflows = any(finite(x) and not math.isfinite(float(x) * scale) for x in thetas)
    if draw(st.integers(0, 3)) == 0:
        width = program.qubits or 2
        body["observables"] = ["Z" * width, {"X" * width: v(0.5, -1.0), "Z" * width: v(1.0)}]
        stray |= program.measures_midway
    if draw(st.integers(0, 3)) == 0:
        depolarizing = {"one_qubit": v(0.001), "two_qubit": v(0.01)}
        body["noise"] = {"depolarizing": depolarizing, "readout": v(0.02)}
    checked = [value for value in values if value is not None]
    return Request(
        body,
        ordinary=program.ordinary and not extreme_drawn and not stray,
        nonfinite=program.nonfinite or overflows or not all(map(finite, checked)),
    )


def shown(text: str, limit: int = 300) -> str:
    """Long digit runs shortened, for a readable report."""
    text = re.sub(r"\d{40,}", lambda found: f"<{len(found[0])} digits>", text)
    return text if len(text) <= limit else text[:limit] + "..."
