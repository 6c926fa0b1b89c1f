"""The view's Lua scripts, kept as ``.lua`` files beside this module (``lua/``) and read once
as package resources; a script that calls the shared functions (``active.lua``: which views a
write goes to, ``store.lua``: one entry's write) is sent with them in front."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from qcexec.view.states import WAITING_KEY

#: Constants the scripts share with Python, defined from their Python source.
_CONSTANTS = f"local WAITING = '{WAITING_KEY}'\n"

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
