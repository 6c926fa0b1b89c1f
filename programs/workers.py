"""Programs are read in worker processes, each with a wall-time and an address-space limit.

The parsers hold the GIL (the reference grammar takes seconds on a large program), so threads
would not keep an event loop free; a process can also be killed at its time limit and cannot
take the machine's memory (``RLIMIT_AS``). A small program that Qiskit's Rust parsers read in a
fraction of a millisecond (no definitions, no loops, a few kilobytes) is read in the caller's
process instead: a hop to a worker would cost more than the parse.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from typing import TYPE_CHECKING

from programs.errors import limit_exceeded
from programs.limits import Limits
from programs.processes import TimedOut, WorkerDied, WorkerPool
from schemas.events import Method

if TYPE_CHECKING:
    from programs.front import Checked

#: What makes a program's reading cost more than its size says: definitions, loops,
#: subroutines, boxes (and the reference parser, for whatever the Rust parsers refuse).
_COSTLY = re.compile(r"\b(?:gate|def|for|while|box|opaque|defcal|cal|extern)\b")
#: Programs whose reading the API keeps (by digest), the most recently used.
KNOWN_PROGRAMS = 256
#: Methods that run any gate (transpiled): checking a program for them needs no transpile, so
#: a small one is read inline.
RUN_ANYTHING = frozenset({None, *Method}) - {Method.STABILIZER, Method.EXTENDED_STABILIZER}


def _check(text: str, limits: Limits, method: Method | None = None) -> Checked:
    from programs.front import check_program

    try:
        checked = check_program(text, limits, method=method)
        assert checked is not None  # None only for fast_only
        return checked
    except MemoryError:
        raise limit_exceeded(
            "the program needs more memory to read than a reader may use"
        ) from None


class ProgramReader:
    """Reads programs off the event loop: ``await reader.check(text)`` is a
    :class:`programs.front.Checked` or raises :class:`ProgramError`."""

    def __init__(
        self,
        limits: Limits,
        workers: int,
        time_limit_s: float,
        memory_mb: int,
        inline_bytes: int = 0,
        nice: int = 0,
    ) -> None:
        self.limits = limits
        self.workers = workers
        self.time_limit_s = time_limit_s
        self.inline_bytes = inline_bytes
        self._known: OrderedDict[tuple[bytes, Method | None], Checked] = OrderedDict()
        self._pool = WorkerPool(workers, ["programs.front", "programs.exported"], nice, memory_mb)

    def warm_up(self) -> None:
        """Start every worker now, so the first programs do not wait for process start-up."""
        self._pool.warm_up(timeout_s=120)

    def cheap(self, text: str) -> bool:
        """Whether the program is small and plain enough to read where it is."""
        return len(text) <= self.inline_bytes and _COSTLY.search(text) is None

    async def check(self, text: str, method: Method | None = None) -> Checked:
        """The program read, priced and held to the limits of ``method`` (None: automatic),
        which must be able to run it. A program read before is not read again: a variational
        loop submits the same circuit with new parameters, again and again."""
        key = (hashlib.blake2b(text.encode(), digest_size=16).digest(), method)
        known = self._known.get(key)
        if known is not None:
            self._known.move_to_end(key)
            return known
        checked = await self._read(text, method)
        self._known[key] = checked
        if len(self._known) > KNOWN_PROGRAMS:
            self._known.popitem(last=False)
        return checked

    async def _read(self, text: str, method: Method | None) -> Checked:
        limits = self.limits.for_method(method)
        if self.cheap(text) and method in RUN_ANYTHING:
            from programs.front import check_program

            inline = check_program(text, limits, fast_only=True)
            if inline is not None:
                return inline
        try:
            checked: Checked = await self._pool.call(
                _check, (text, limits, method), timeout_s=self.time_limit_s
            )
            return checked
        except TimedOut:
            raise limit_exceeded(
                f"reading the program took longer than {self.time_limit_s * 1000:.0f} ms"
            ) from None
        except WorkerDied as exc:
            raise limit_exceeded(
                f"the program's reader stopped (exit code {exc.exitcode}): it needs more "
                "memory or time than a reader may use"
            ) from None

    def close(self) -> None:
        self._pool.close()
