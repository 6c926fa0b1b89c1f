"""Process-wide tuning shared by the long-running entry points."""

from __future__ import annotations

import gc


def freeze_startup_objects() -> None:
    """Take every object alive now out of the garbage collector's view.

    Qiskit, Aer, FastAPI and their imports leave millions of long-lived objects; every full
    collection scans them all (over 100 ms in the API, once every few thousand requests): a
    pause in the middle of requests and about a sixth of the API's CPU under load. They live as
    long as the process, so they are collected once here and then frozen (``gc.freeze``)."""
    gc.collect()
    gc.freeze()
