"""``python -m runtime.health [api|processor|materializer]``: the containers' health check.

Exits 0 when the role's ``GET /healthz`` on this host answers 200: the API on API_PORT
(default 8000), the processor on PROCESSOR_METRICS_PORT, the materializer on
MATERIALIZER_METRICS_PORT. Without a role, any of those whose port is set will do, so one
image-wide HEALTHCHECK fits every role. Reads only the environment (no imports of the
service), so that it stays quick.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping

PORTS = {
    "api": ("API_PORT", "8000"),
    "processor": ("PROCESSOR_METRICS_PORT", ""),
    "materializer": ("MATERIALIZER_METRICS_PORT", ""),
}


def ports(roles: list[str], environ: Mapping[str, str] = os.environ) -> list[int]:
    found = []
    for role in roles or list(PORTS):
        variable, default = PORTS[role]
        port = environ.get(variable, default).strip()
        if port.isdigit() and int(port) > 0:
            found.append(int(port))
    return found


def healthy(port: int, timeout_s: float = 4.0) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=timeout_s) as r:
            return r.status == 200
    except (OSError, urllib.error.URLError):  # refused, timed out, or an HTTP error status
        return False


def main(argv: list[str]) -> int:
    unknown = set(argv) - set(PORTS)
    if unknown:
        print(f"usage: python -m runtime.health [{'|'.join(PORTS)}]", file=sys.stderr)
        return 2
    return 0 if any(healthy(port) for port in ports(argv)) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
