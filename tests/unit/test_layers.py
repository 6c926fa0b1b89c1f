"""The layers hold where it matters most: the contract (``schemas``) and the settings load no
Qiskit, Aer or Faust, so downstream consumers and every process's start-up stay light, and the
program front end imports nothing above it (no service, not the shared runtime)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("qiskit", "qiskit_aer", "faust", "antlr4", "pyqasm")


@pytest.mark.parametrize(
    "module",
    [
        "schemas.events",
        "schemas.topics",
        "schemas.asyncapi",
        "programs.limits",
        "programs.errors",
        "programs.detect",
        "qcexec.settings",
    ],
)
def test_light_modules_load_nothing_heavy(module: str) -> None:
    check = (
        f"import sys, {module}\n"
        f"heavy = sorted(m for m in {HEAVY!r} if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert run.stdout.strip() == "", f"{module} loads {run.stdout.strip()}"


def test_the_front_end_imports_no_service() -> None:
    for path in (ROOT / "programs").glob("*.py"):
        text = path.read_text()
        for service in ("api", "processor", "qcexec"):
            assert f"from {service}" not in text and f"import {service}" not in text, (
                f"{path.name} imports {service}"
            )
