"""The device snapshots a task may take its noise from: qiskit-ibm-runtime's fake provider, which
ships the calibration of real IBM devices (``fake_sherbrooke``, 127 qubits, ...).

The catalog is read from the provider's files (each device's name and width), without importing
it: importing qiskit-ibm-runtime takes seconds, and the API only needs the names and widths to
answer ``GET /devices`` and to check a submission. The processor builds the backend itself
(:func:`device_backend`) in its workers.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

_NAME = re.compile(r'backend_name\s*=\s*"([^"]+)"')
_CLASS = re.compile(r"^class (\w+)\(", re.MULTILINE)
_QUBITS = re.compile(r'"n_qubits"\s*:\s*(\d+)')
PACKAGE = "qiskit_ibm_runtime"


@dataclass(frozen=True)
class Device:
    name: str
    qubits: int
    #: The module and class of its fake backend.
    module: str
    cls: str


@cache
def catalog() -> dict[str, Device]:
    """Every device snapshot by name, sorted; empty when qiskit-ibm-runtime is not installed."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return {}
    backends = Path(next(iter(spec.submodule_search_locations))) / "fake_provider" / "backends"
    found: dict[str, Device] = {}
    for source in sorted(backends.glob("*/fake_*.py")):
        text = source.read_text()
        name, cls = _NAME.search(text), _CLASS.search(text)
        confs = list(source.parent.glob("conf_*.json"))
        qubits = _QUBITS.search(confs[0].read_text()) if confs else None
        if name and cls and qubits:
            module = f"{PACKAGE}.fake_provider.backends.{source.parent.name}.{source.stem}"
            found[name.group(1)] = Device(name.group(1), int(qubits.group(1)), module, cls.group(1))
    return dict(sorted(found.items()))


def device_backend(name: str) -> Any:
    """The fake backend of a device snapshot (a ``FakeBackendV2``); KeyError for a name not in
    the catalog."""
    device = catalog()[name]
    return getattr(importlib.import_module(device.module), device.cls)()
