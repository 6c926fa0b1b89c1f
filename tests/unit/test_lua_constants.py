"""The view's Lua scripts share their numbers and words with Python through one source: the
constants ``runtime/view/scripts.py`` puts in front of every script, generated from the enums
and the entry's layout. These tests fail when a script spells one of them out again, or when
the generated constants stop saying what the Python side means."""

from __future__ import annotations

import re
from importlib.resources import files

import pytest

from runtime.view.documents import ENTRY_LAYOUT, ViewEntry
from runtime.view.scripts import USES, script
from runtime.view.states import NO_SUCH_TASK, Claim, Rank
from schemas.events import utcnow

LUA = files("runtime.view").joinpath("lua")
SOURCES = {path.name: path.read_text(encoding="utf-8") for path in LUA.iterdir()}


def _code(source: str) -> str:
    """The source without its comments."""
    return "\n".join(line.split("--", 1)[0] for line in source.splitlines())


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_no_script_spells_out_a_shared_constant(name: str) -> None:
    code = _code(SOURCES[name])
    size = len(ENTRY_LAYOUT)
    assert not re.search(r"answer\s*=\s*'", code), "a claim's answer written in Lua"
    assert not re.search(r"rank\s*[<>=~]=?\s*-?\d", code), "a rank compared with a number"
    assert not re.search(r"return \{-?\d", code), "an answer's rank as a number"
    assert not re.search(rf"\bi \+ ({size - 1}|{size})\)", code), "an entry's length as a number"
    assert not re.search(rf",\s*{size}\s+do\b", code), "a loop stepping over entries by a number"


def test_the_generated_constants_are_the_python_ones() -> None:
    values = dict(re.findall(r"^local (\w+) = (.+)$", script("claim"), flags=re.MULTILINE))
    for rank in Rank:
        assert int(values[f"RANK_{rank.name}"]) == rank.value
    for claim in Claim:
        assert values[f"CLAIM_{claim.name}"] == f"'{claim.value}'"
    assert int(values["NO_SUCH_TASK"]) == NO_SUCH_TASK
    assert int(values["ENTRY_SIZE"]) == len(ENTRY_LAYOUT)
    # An entry's values come in the layout's order, one per position the scripts name.
    entry = ViewEntry("t", Rank.QUEUED, 3, b"{}", "o", utcnow())
    args = entry.args(60)
    assert len(args) == int(values["ENTRY_SIZE"])
    for i, name in enumerate(ENTRY_LAYOUT, start=1):
        assert int(values[f"E_{name.upper()}"]) == i
    assert args[int(values["E_TASK_ID"]) - 1] == "t"
    assert args[int(values["E_RANK"]) - 1] == Rank.QUEUED
    assert args[int(values["E_GENERATION"]) - 1] == 3
    assert args[int(values["E_TTL"]) - 1] == 60


def test_every_script_is_sent_with_the_constants() -> None:
    for name in USES:
        assert script(name).startswith("local WAITING = ")
