"""The docs name what exists: every ``make`` target, ``qcexec`` command, ``python -m`` module
and repository path that README.md and docs/*.md name in code (or link to) is there, so that
a rename cannot leave the docs behind."""

from __future__ import annotations

import importlib.util
import re
from itertools import product
from pathlib import Path

import typer.main

from ops.cli import app

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: Written by the tools, not kept in the repository (see .gitignore).
GENERATED = (".stack/", ".cache/", ".venv/", "tests/perf/out/")


def code_of(text: str) -> str:
    """The fenced blocks and inline code spans of a Markdown page, one per line."""
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)
    spans = re.findall(r"`([^`\n]+)`", re.sub(r"^```.*?^```", "", text, flags=re.M | re.S))
    return "\n".join([*blocks, *spans])


def named(pattern: str) -> list[tuple[str, str]]:
    """(page, match) for every match of ``pattern`` in the code of every page."""
    return [
        (page.relative_to(ROOT).as_posix(), found)
        for page in DOCS
        for found in re.findall(pattern, code_of(page.read_text()), flags=re.MULTILINE)
    ]


def expand(path: str) -> list[str]:
    """``a.{json,png}`` as ``a.json`` and ``a.png``."""
    parts = re.split(r"\{([^}]*)\}", path)
    choices = [[part] if i % 2 == 0 else part.split(",") for i, part in enumerate(parts)]
    return ["".join(chosen) for chosen in product(*choices)]


def test_make_targets_exist() -> None:
    targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), flags=re.M))
    found = named(r"\bmake ([a-z][\w-]*)")
    assert found
    missing = [(page, target) for page, target in found if target not in targets]
    assert not missing, f"make targets named in the docs but not in the Makefile: {missing}"


def test_qcexec_commands_exist() -> None:
    cli = typer.main.get_command(app)
    found = named(r"(?<![-\w] )(?<!-n )\bqcexec ([a-z][\w-]*)(?: ([a-z][\w-]*))?")
    assert found
    missing = []
    for page, (command, sub) in found:
        group = getattr(cli, "commands", {}).get(command)
        if group is None or (hasattr(group, "commands") and sub not in group.commands):
            missing.append((page, f"qcexec {command} {sub}".strip()))
    assert not missing, f"qcexec commands named in the docs that do not exist: {missing}"


def test_python_modules_exist() -> None:
    found = named(r"python -m ([a-z_][\w.]*)")
    assert found
    missing = [(page, m) for page, m in found if importlib.util.find_spec(m) is None]
    assert not missing, f"modules named in the docs that do not exist: {missing}"


def repository_paths() -> list[tuple[str, str]]:
    """Paths in code that start with one of the repository's top-level entries, and the
    targets of relative links (resolved from their page)."""
    tops = {entry.name for entry in ROOT.iterdir() if not entry.name.startswith(".git")}
    paths = []
    for page in DOCS:
        text, where = page.read_text(), page.relative_to(ROOT).as_posix()
        for token in re.findall(r"[\w.{},*/-]+", code_of(text)):
            first = token.split("/")[0]
            if "/" in token and first in tops and not token.startswith(GENERATED):
                paths.append((where, token))
        for link in re.findall(r"\]\(([^)#\s]+)", text):
            if not re.match(r"[a-z]+:", link):
                resolved = (page.parent / link).resolve().relative_to(ROOT)
                paths.append((where, resolved.as_posix()))
    return paths


def test_repository_paths_exist() -> None:
    paths = repository_paths()
    assert paths
    missing = [
        (page, path)
        for page, path in paths
        if not any(
            any(ROOT.glob(one)) if "*" in one else (ROOT / one).exists() for one in expand(path)
        )
    ]
    assert not missing, f"paths named in the docs that do not exist: {missing}"
