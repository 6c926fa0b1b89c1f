"""``make test-alone``: every test module run on its own, in a pytest process of its own, so that
no test depends on what another module left behind (fixtures, topics, a warm cache).

The broker and Redis are started once (``tests/services.py``) and handed to each run through
``QCEXEC_TEST_KAFKA`` and ``QCEXEC_TEST_REDIS``, as a developer's own would be; each module still
makes its own stack, topics and keys. Modules whose tests stop and restart the broker or Redis
themselves need services of their own, so they are run without the shared ones. Exits 1 when a
module fails, naming it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.services import services

ROOT = Path(__file__).resolve().parents[1]
#: These stop and start the session's own broker or Redis: they start their own.
OWN_SERVICES = {"tests/faults/test_broker_restart.py", "tests/faults/test_redis_restart.py"}


def modules() -> list[str]:
    found = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").rglob("test_*.py"))
    return [m for m in found if not m.startswith("tests/perf/")] + [
        m for m in found if m.startswith("tests/perf/")
    ]


def main() -> int:
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="qcexec-alone-") as work, services(Path(work)) as found:
        shared = {
            **os.environ,
            "QCEXEC_TEST_KAFKA": found.kafka_bootstrap,
            "QCEXEC_TEST_REDIS": found.redis_url,
        }
        for module in modules():
            env = dict(os.environ) if module in OWN_SERVICES else shared
            started = time.monotonic()
            run = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", module],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
            )
            outcome = "ok" if run.returncode in (0, 5) else f"FAILED ({run.returncode})"
            print(f"{module}: {outcome} in {time.monotonic() - started:.0f} s", flush=True)
            if run.returncode not in (0, 5):
                failed.append(module)
                print(run.stdout[-6000:], run.stderr[-3000:], sep="\n", flush=True)
    if failed:
        print("failed on their own: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
