"""The client and its primitives stand alone: importing them loads none of the server's
packages, nor Faust, nor Aer; the client without its primitives loads no Qiskit."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

SERVER = {"api", "processor", "programs", "qcexec", "schemas", "faust", "qiskit_aer", "aiokafka"}


@pytest.mark.parametrize("module", ["qcexec_client", "qcexec_client.qiskit"])
def test_imports_nothing_of_the_server(module: str) -> None:
    if module.endswith("qiskit"):
        pytest.importorskip("qiskit")
    check = (
        f"import json, sys, {module}; "
        "print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, check=True
    ).stdout
    forbidden = SERVER if module.endswith("qiskit") else SERVER | {"qiskit", "numpy"}
    assert not forbidden & set(json.loads(loaded)), loaded
