"""Where Qiskit users are: ``clients/python`` installed with pip's semantics (uv) into a plain
Python 3.12 environment of its own, with only the ``qiskit`` extra and pytest, runs the
client's own tests and the examples against this stack; none of the server's packages, Faust or
Aer is in that environment. The stack has API keys and a rate limit: the client sends its key
and rides out 429s after their Retry-After. And ``qcexec submit`` with sweeps and observables."""

from __future__ import annotations

import asyncio
import glob
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from qcexec_client import AsyncClient, Client, Unauthorized
from typer.testing import CliRunner

from ops.cli import app
from tests.services import Services
from tests.stack import Stack

REPO = Path(__file__).resolve().parents[2]
CLIENT = REPO / "clients" / "python"
ABSENT = ["api", "processor", "programs", "runtime", "ops", "schemas", "faust", "qiskit_aer"]
SWEEP = """OPENQASM 3.0;
include "stdgates.inc";
input float theta;
qubit[2] q;
bit[2] c;
ry(theta) q[0];
cx q[0], q[1];
c = measure q;
"""


KEY, BURST_KEY = "client-key", "burst-key"


@pytest.fixture(scope="module")
def stack(real_services: Services, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack that needs an API key, 20 requests a second per key (bursts of 20)."""
    running = Stack(
        real_services,
        tmp_path_factory.mktemp("stack"),
        API_KEYS=f"{KEY},{BURST_KEY}",
        API_RATE_LIMIT_PER_S="20",
        API_RATE_LIMIT_BURST="20",
    )
    running.client.headers["Authorization"] = f"Bearer {KEY}"
    yield running.start()
    running.stop()


def python_312() -> str:
    """A CPython 3.12 already on the machine (uv must not download one): pyenv's, else
    whatever uv finds on the PATH; QCEXEC_TEST_PYTHON picks another (3.10 to 3.13)."""
    if chosen := os.environ.get("QCEXEC_TEST_PYTHON"):
        return chosen
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    found = sorted(glob.glob(f"{root}/versions/3.12*/bin/python3.12"))
    return found[-1] if found else "3.12"


@pytest.fixture(scope="module")
def plain_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with ``clients/python[qiskit]`` and pytest, nothing else."""
    uv = shutil.which("uv")
    assert uv, "uv is needed to build the client's environment (pip install uv)"
    venv = tmp_path_factory.mktemp("client") / "venv"
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    env.pop("VIRTUAL_ENV", None)
    subprocess.run([uv, "venv", "--python", python_312(), str(venv)], env=env, check=True)
    python = venv / "bin" / "python"
    install = [uv, "pip", "install", "--python", str(python), f"{CLIENT}[qiskit]", "pytest"]
    subprocess.run(install, env=env, check=True, timeout=540)
    return python


def _run(python: Path, args: list[str], url: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "QCEXEC_URL": url}
    env["QCEXEC_API_KEY"] = KEY
    return subprocess.run(
        [str(python), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=540
    )


def test_the_environment_is_plain(plain_python: Path, stack: Stack) -> None:
    version = _run(plain_python, ["-c", "import sys; print(sys.version_info[:2])"], "", REPO)
    if "QCEXEC_TEST_PYTHON" not in os.environ:
        assert version.stdout.strip() == "(3, 12)"
    probe = f"import importlib.util as u; print([m for m in {ABSENT!r} if u.find_spec(m)])"
    assert _run(plain_python, ["-c", probe], "", Path("/")).stdout.strip() == "[]"


def test_the_client_tests_pass_against_the_stack(plain_python: Path, stack: Stack) -> None:
    tests = ["-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "tests"]
    outcome = _run(plain_python, tests, stack.url, CLIENT)
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    assert "skipped" not in outcome.stdout and " passed" in outcome.stdout, outcome.stdout


@pytest.mark.parametrize("example", ["sampler.py", "estimator.py"])
def test_the_examples_run(plain_python: Path, stack: Stack, example: str) -> None:
    outcome = _run(plain_python, [str(REPO / "examples" / example)], stack.url, Path("/"))
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    if example == "sampler.py":
        assert re.search(r"bell: \{'(00|11)': \d+, '(00|11)': \d+\}", outcome.stdout)
        assert "theta=3.142: P(1)=1.000" in outcome.stdout
    else:
        assert outcome.stdout.count("exact") == 4


def _cli(stack: Stack, *args: str, exit_code: int = 0) -> str:
    env = {"QCEXEC_URL": stack.url, "QCEXEC_API_KEY": KEY}
    outcome = CliRunner().invoke(app, list(args), env=env)
    assert outcome.exit_code == exit_code, outcome.output
    return outcome.output


def test_cli_submit_with_parameters_and_observables(stack: Stack, tmp_path: Path) -> None:
    program = tmp_path / "sweep.qasm"
    program.write_text(SWEEP)
    one = _cli(
        stack,
        "submit",
        str(program),
        "--param",
        "theta=3.141592653589793",
        "--observable",
        "ZZ",
        "--observable",
        '{"ZI": 2}',
        "--shots",
        "0",
        "--wait",
    )
    assert re.search(r"│\s+0\s+│\s+3\.14159\s+│\s+1\.000000 ± 0\s+│\s+-2\.000000 ± 0\s+│", one)
    points = tmp_path / "points.json"
    points.write_text('[{"theta": 0}, {"theta": 1.5707963267948966}, {"theta": 3.14159}]')
    sweep = _cli(
        stack,
        "submit",
        str(program),
        "--params-file",
        str(points),
        "--observable",
        "ZZ",
        "--shots",
        "100",
        "--seed",
        "1",
        "--wait",
    )
    rows = re.findall(r"│\s+(\d)\s+│\s+([\d.]+)\s+│\s+(-?[\d.]+) ± [\d.e-]+\s+│", sweep)
    assert [row[0] for row in rows] == ["0", "1", "2"] and rows[0][2] == "1.000000"
    assert "00: 100" in sweep
    refused = _cli(stack, "submit", str(program), "--param", "phi=1", "--wait", exit_code=1)
    assert "422" in refused and "no input named phi" in refused
    bad = _cli(stack, "submit", str(program), "--param", "theta", exit_code=2)
    assert "expected name=number" in bad


class _Counting(httpx.AsyncHTTPTransport):
    """The real transport, noting each answer's status."""

    def __init__(self) -> None:
        super().__init__()
        self.statuses: list[int] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        self.statuses.append(response.status_code)
        return response


def test_the_key_is_sent_and_429s_are_ridden_out(stack: Stack) -> None:
    for key in ("", "wrong-key"):
        with Client(stack.url, api_key=key) as anonymous, pytest.raises(Unauthorized) as refused:
            anonymous.list()
        assert refused.value.status == 401 and "API key" in refused.value.reason

    async def burst(transport: _Counting) -> list:
        async with AsyncClient(stack.url, api_key=BURST_KEY, transport=transport) as client:
            return await asyncio.gather(*(client.list(limit=1) for _ in range(60)))

    transport = _Counting()
    # 60 at once against bursts of 20: some are answered 429 and sent again after Retry-After.
    assert len(asyncio.run(burst(transport))) == 60
    assert 429 in transport.statuses and transport.statuses.count(200) == 60
