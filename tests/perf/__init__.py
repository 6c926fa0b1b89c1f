"""The benchmark harness (``make bench``): the service against in-process baselines.

Not collected by pytest except ``test_bench_smoke.py``, which runs the harness with a handful of
tasks so that it cannot rot. See ``bench.py``.
"""
