"""The acceptance rules: what the parser lets through, and what it says when it does not."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from programs.errors import ProgramError
from programs.front import read_program
from programs.limits import Limits, check_shots
from tests.helpers import BELL
from tests.reading import parse_program

LIMITS = Limits(max_qubits=5, max_shots=1000, max_operations=20, max_program_bytes=4096)


def test_bell_parses() -> None:
    circuit = parse_program(BELL)
    assert circuit.num_qubits == 2 and circuit.num_clbits == 2
    assert dict(circuit.count_ops()) == {"h": 1, "cx": 1, "measure": 2}


@pytest.mark.parametrize(
    ("program", "line", "column", "words"),
    [
        ("OPENQASM 3.0;\nqubit q;\nfoo q;\n", 3, 1, "'foo' is not defined"),
        ("OPENQASM 3.0;\nqubit[2] q;\nU(0, 0, 0) q[0]\n", 4, 1, "missing ';'"),
        ("OPENQASM 3.0;\nqubit q; $$", 2, 10, "token recognition error"),
        ("hello", 1, 6, "no viable alternative"),
    ],
)
def test_errors_say_where(program: str, line: int, column: int, words: str) -> None:
    with pytest.raises(ProgramError) as caught:
        parse_program(program)
    assert (caught.value.line, caught.value.column) == (line, column)
    assert words in caught.value.message


@pytest.mark.parametrize("program", ["", "   \n\t"])
def test_empty_program_is_invalid(program: str) -> None:
    with pytest.raises(ProgramError, match="empty"):
        parse_program(program)


@pytest.mark.parametrize(
    "path", ["/etc/passwd", "../../../../etc/hostname", "qelib1.inc", "./stdgates.inc"]
)
def test_include_reads_nothing_but_the_standard_library(path: str, tmp_path, monkeypatch) -> None:
    # A file that would parse as valid OpenQASM, where a relative include would find it.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "qelib1.inc").write_text("gate evil a { U(0, 0, 0) a; }\n")
    program = f'OPENQASM 3.0;\ninclude "{path}";\nqubit q;\n'
    with pytest.raises(ProgramError, match="is not allowed") as caught:
        parse_program(program)
    assert caught.value.line == 2


def test_deep_nesting_is_refused_not_crashed() -> None:
    program = "OPENQASM 3.0;\nfloat x = " + "(" * 5000 + "1" + ")" * 5000 + ";\n"
    with pytest.raises(ProgramError, match="nested too deeply"):
        parse_program(program)


def test_program_size_limit() -> None:
    with pytest.raises(ProgramError) as caught:
        read_program(BELL + "// padding\n" * 400, LIMITS)
    assert caught.value.code == "limit_exceeded"


@pytest.mark.parametrize(
    ("program", "shots", "words"),
    [
        (BELL, 1001, "shots"),
        (BELL, 0, "shots"),
        ('OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[6] q;\n', 10, "6 qubits"),
        ('OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit q;\n' + "x q;\n" * 21, 10, "operations"),
    ],
)
def test_limits(program: str, shots: int, words: str) -> None:
    with pytest.raises(ProgramError, match=words) as caught:
        check_shots(shots, LIMITS)
        read_program(program, LIMITS)
    assert caught.value.code == "limit_exceeded"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_text_parses_or_is_refused_with_a_program_error(text: str) -> None:
    try:
        parse_program("OPENQASM 3.0;\n" + text)
    except ProgramError as exc:
        assert exc.message


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(BELL.splitlines(keepends=True)), max_size=12))
def test_shuffled_bell_lines_never_escape_as_other_errors(lines: list[str]) -> None:
    try:
        parse_program("".join(lines))
    except ProgramError as exc:
        assert exc.message
