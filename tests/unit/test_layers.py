"""The layers hold where it matters most: the contract (``schemas``) and the settings load no
Qiskit, Aer or Faust, so downstream consumers and every process's start-up stay light; the
program front end imports nothing above it (no service, not the shared runtime); the CLI loads
the heavy libraries only in the commands that need them; and import-linter's contracts
(pyproject.toml) are kept."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("qiskit", "qiskit_aer", "faust", "antlr4", "pyqasm")


LIGHT_MODULES = [
    "schemas.events",
    "schemas.topics",
    "schemas.asyncapi",
    "programs.limits",
    "programs.errors",
    "programs.detect",
    "runtime.settings",
    "runtime.view",
    "ops.rebuild",
    "ops.cli",
    "materializer.service",
]
CLI_ARGUMENTS = [["--help"], ["status", "some-task"]]


def _cli(arguments: list[str]) -> str:
    """``qcexec ARGUMENTS`` (``status`` against an API that does not answer)."""
    return (
        "import os\n"
        "os.environ['QCEXEC_URL'] = 'http://127.0.0.1:9'\n"
        "from ops.cli import app\n"
        "try:\n"
        f"    app({arguments!r})\n"
        "except SystemExit:\n"
        "    pass\n"
    )


@pytest.fixture(scope="module")
def heavy_after() -> dict[str, str]:
    """For each piece of code (an import, a CLI command): the heavy modules loaded once it has
    run, each in a fresh interpreter of its own; they all run side by side."""
    codes = [f"import {module}" for module in LIGHT_MODULES]
    codes += [_cli(arguments) for arguments in CLI_ARGUMENTS]
    report = f"import sys\nloaded = sorted(m for m in {HEAVY!r} if m in sys.modules)\n"
    report += "print('heavy:' + ','.join(loaded))\n"
    started = {
        code: subprocess.Popen(
            [sys.executable, "-c", f"{code}\n{report}"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for code in codes
    }
    found = {}
    for code, process in started.items():
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        (line,) = [line for line in out.splitlines() if line.startswith("heavy:")]
        found[code] = line.removeprefix("heavy:")
    return found


@pytest.mark.parametrize("module", LIGHT_MODULES)
def test_light_modules_load_nothing_heavy(module: str, heavy_after: dict[str, str]) -> None:
    heavy = heavy_after[f"import {module}"]
    assert heavy == "", f"{module} loads {heavy}"


@pytest.mark.parametrize("arguments", CLI_ARGUMENTS)
def test_the_cli_loads_neither_faust_nor_qiskit(
    arguments: list[str], heavy_after: dict[str, str]
) -> None:
    heavy = heavy_after[_cli(arguments)]
    assert heavy == "", f"qcexec {' '.join(arguments)} loads {heavy}"


def test_the_front_end_imports_no_service() -> None:
    for path in (ROOT / "programs").glob("*.py"):
        text = path.read_text()
        for service in ("api", "processor", "materializer", "runtime", "ops"):
            assert f"from {service}" not in text and f"import {service}" not in text, (
                f"{path.name} imports {service}"
            )


def test_the_import_contracts_are_kept() -> None:
    """The layers and forbidden imports of ``[tool.importlinter]`` in pyproject.toml."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    run = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_no_test_module_imports_another() -> None:
    """Shared helpers live in modules of their own (tests/helpers.py, tests/stack.py, ...)."""
    pattern = re.compile(r"^\s*(?:from|import)\s+tests\.([\w.]+)", flags=re.MULTILINE)
    found = [
        (path.relative_to(ROOT).as_posix(), module)
        for path in (ROOT / "tests").rglob("*.py")
        for module in pattern.findall(path.read_text())
        if module.split(".")[-1].startswith("test_") or module.split(".")[-1] == "conftest"
    ]
    assert not found, f"test modules imported by others: {found}"
