"""Programs that cost far more than their size says: for the fault tests and the benchmark."""

from __future__ import annotations

HEADER3 = 'OPENQASM 3.0;\ninclude "stdgates.inc";\n'
HEADER2 = 'OPENQASM 2.0;\ninclude "qelib1.inc";\n'


#: Never finishes by itself (it measures until it sees 1 after resetting to 0): it ends at
#: the task's time limit.
RUNAWAY = """OPENQASM 3.0;
include "stdgates.inc";
qubit q;
bit c;
c = measure q;
while (c == false) {
  reset q;
  c = measure q;
}
"""


def gate_bomb(levels: int = 30, version: int = 3) -> str:
    """Each gate calls the one before twice: 2**levels operations from a few hundred bytes."""
    lines = ["gate g0 a { x a; x a; }"]
    lines += [f"gate g{i} a {{ g{i - 1} a; g{i - 1} a; }}" for i in range(1, levels + 1)]
    if version == 2:
        lines += ["qreg q[1];", "creg c[1];", f"g{levels} q[0];", "measure q -> c;"]
        return HEADER2 + "\n".join(lines) + "\n"
    lines += ["qubit q;", "bit c;", f"g{levels} q;", "c = measure q;"]
    return HEADER3 + "\n".join(lines) + "\n"


def loop_bomb(iterations: int = 10**9) -> str:
    body = f"qubit q;\nbit c;\nfor int i in [1:{iterations}] {{ x q; }}\nc = measure q;\n"
    return HEADER3 + body


def big_program(size: int = 127 * 1024, qubits: int = 12) -> str:
    """A valid program of about ``size`` bytes that only the reference parser reads (it
    defines a gate of its own): seconds of parsing, a cheap simulation."""
    lines = [
        HEADER3.rstrip("\n"),
        "gate layer(t) a, b { h a; rz(t) b; cx a, b; }",
        f"qubit[{qubits}] q;",
        f"bit[{qubits}] c;",
    ]
    length = sum(len(line) + 1 for line in lines) + len("c = measure q;\n")
    i = 0
    while length < size - 40:
        line = f"layer({(i % 97) / 10}) q[{i % qubits}], q[{(i + 1) % qubits}];"
        lines.append(line)
        length += len(line) + 1
        i += 1
    lines.append("c = measure q;")
    return "\n".join(lines) + "\n"
