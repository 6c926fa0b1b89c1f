"""The program front end: which language a program is in, reading it, what it will cost.

Layer 2 of the design (docs/architecture.md): the API (at submit) and the processor (before it
simulates) both read programs through :func:`programs.front.read_program`, always in worker
processes with a time and a memory limit (:mod:`programs.workers`). This package imports no
service; importing it (or :mod:`programs.limits`, :mod:`programs.errors`) loads no Qiskit: the
modules that parse do."""
