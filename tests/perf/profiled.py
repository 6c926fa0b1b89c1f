"""``python -m tests.perf.profiled OUT.pyisession MODULE``: run ``python -m MODULE`` under
pyinstrument and save the session when it exits, SIGTERM included (uvicorn re-raises the
signal once it has shut down; the handler installed here turns it into a normal exit)."""

from __future__ import annotations

import runpy
import signal
import sys

from pyinstrument import Profiler


def main() -> None:
    out, module = sys.argv[1], sys.argv[2]
    sys.argv = [module, *sys.argv[3:]]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    profiler = Profiler(interval=0.001)
    profiler.start()
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except (SystemExit, KeyboardInterrupt):
        pass
    finally:
        session = profiler.stop()
        session.save(out)


if __name__ == "__main__":
    main()
