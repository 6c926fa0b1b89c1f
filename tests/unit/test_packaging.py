"""What the wheel and the image carry: every package the wheel lists is copied into the image
(and let through .dockerignore), and every Lua script of the view is a package resource that
the view loads."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from runtime.view import scripts

ROOT = Path(__file__).resolve().parents[2]


def test_the_image_copies_every_package_of_the_wheel() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = set(pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"])
    dockerfile = (ROOT / "Dockerfile").read_text()
    copied = {
        source.rstrip("/")
        for arguments in re.findall(r"^COPY\s+(?!--from)(.*)$", dockerfile, flags=re.MULTILINE)
        for source in arguments.split()[:-1]
    }
    allowed = {
        line[1:].rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    assert packages <= copied, f"not copied into the image: {packages - copied}"
    assert packages <= allowed, f"left out by .dockerignore: {packages - allowed}"


def test_every_lua_script_is_a_resource_the_view_loads() -> None:
    files = {path.stem for path in (ROOT / "runtime" / "view" / "lua").glob("*.lua")}
    used = set(scripts.USES) | {part for parts in scripts.USES.values() for part in parts}
    assert files == used
    for name in scripts.USES:
        assert "redis.call" in scripts.script(name)
