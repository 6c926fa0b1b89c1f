"""The view's Lua scripts, kept as ``.lua`` files beside this module (``lua/``) and read once
as package resources; a script that calls the shared functions (``active.lua``: which views a
write goes to, ``store.lua``: one entry's write) is sent with them in front."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from runtime.view.documents import ENTRY_LAYOUT
from runtime.view.states import NO_SUCH_TASK, WAITING_KEY, Claim, Rank
from runtime.view.usage import USAGE_KEY, USAGE_TTL_S


def _constants() -> str:
    """The constants the scripts share with Python, as Lua locals defined from their Python
    source: the key of the owners' backlogs, the key and lifetime of their usage, the ranks,
    the claim's answers, what cancelling an unknown task answers, and the layout of an entry
    (``E_TASK_ID`` ... and ``ENTRY_SIZE``)."""
    lines = [f"local WAITING = '{WAITING_KEY}'", f"local NO_SUCH_TASK = {NO_SUCH_TASK}"]
    lines += [f"local USAGE = '{USAGE_KEY}'", f"local USAGE_TTL_S = {USAGE_TTL_S}"]
    lines += [f"local RANK_{rank.name} = {rank.value}" for rank in Rank]
    lines += [f"local CLAIM_{claim.name} = '{claim.value}'" for claim in Claim]
    lines += [f"local E_{name.upper()} = {i}" for i, name in enumerate(ENTRY_LAYOUT, start=1)]
    lines.append(f"local ENTRY_SIZE = {len(ENTRY_LAYOUT)}")
    return "\n".join(lines) + "\n"


_CONSTANTS = _constants()

#: The shared functions each script calls, in the order they are put in front of it.
USES: dict[str, tuple[str, ...]] = {
    "apply": ("active", "store"),
    "claim": ("active", "store"),
    "cancel": ("active",),
    "withdraw": ("active",),
    "copy_marks": (),
    "renew": (),
    "switch": ("active",),
    "get": ("active",),
}


def _read(name: str) -> str:
    return files(__package__).joinpath("lua", f"{name}.lua").read_text(encoding="utf-8")


@cache
def script(name: str) -> str:
    """The source of one script, with the functions it calls."""
    return _CONSTANTS + "".join(_read(part) for part in (*USES[name], name))
