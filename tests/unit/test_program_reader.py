"""The API's program readers: worker processes with a time and a memory limit, and the small
programs read where they are, with the same answer as a worker gives."""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Iterator

import pytest

from programs.errors import ProgramError
from programs.front import Checked
from programs.limits import Limits
from programs.processes import limit_memory
from programs.workers import ProgramReader
from schemas.events import Dialect, Method
from tests.helpers import BELL
from tests.hostile import big_program, gate_bomb

LIMITS = Limits(max_qubits=28, max_shots=100_000, max_operations=100_000, max_program_bytes=2**17)
SMALL = [
    BELL,
    'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\n'
    "measure q -> c;\n",
    "OPENQASM 3.0;\nbit[2] b;\nqubit[2] q;\nh q[0];\ncnot q[0], q[1];\nb = measure q;\n",
]


@pytest.fixture(scope="module")
def reader() -> Iterator[ProgramReader]:
    made = ProgramReader(LIMITS, workers=1, time_limit_s=0.3, memory_mb=3072, inline_bytes=4096)
    made.warm_up()
    yield made
    made.close()


def check(reader: ProgramReader, text: str) -> Checked:
    return asyncio.run(reader.check(text))


def test_a_program_over_the_time_limit_is_refused(reader: ProgramReader) -> None:
    assert not reader.cheap(big_program())
    with pytest.raises(ProgramError, match="longer than 300 ms") as caught:
        check(reader, big_program())
    assert caught.value.code == "limit_exceeded"
    assert check(reader, BELL).dialect is Dialect.OPENQASM3  # the killed worker was replaced


def test_a_bomb_is_refused_by_the_worker(reader: ProgramReader) -> None:
    with pytest.raises(ProgramError, match="operations") as caught:
        check(reader, gate_bomb(30))
    assert caught.value.code == "limit_exceeded"


@pytest.mark.parametrize("text", SMALL)
def test_small_programs_read_in_place_answer_as_a_worker_does(reader, text: str) -> None:
    assert reader.cheap(text)
    in_place = check(reader, text)
    worker = asyncio.run(reader._pool.call(_worker_check, (text,), timeout_s=60))
    assert in_place == worker
    assert in_place.qubits == 2 and in_place.clbits == 2


def _worker_check(text: str) -> Checked:
    from programs.workers import _check

    return _check(text, LIMITS)


def _allocate(megabytes: int, queue: multiprocessing.Queue) -> None:
    limit_memory(megabytes)
    try:
        block = bytearray(2 * megabytes * 1024 * 1024)
        queue.put(f"allocated {len(block)}")
    except MemoryError:
        queue.put("MemoryError")


def test_the_address_space_limit_holds() -> None:
    queue: multiprocessing.Queue = multiprocessing.get_context("spawn").Queue()
    process = multiprocessing.get_context("spawn").Process(target=_allocate, args=(2048, queue))
    process.start()
    process.join(60)
    assert queue.get(timeout=10) == "MemoryError"


def test_a_program_read_before_is_not_read_again(reader: ProgramReader) -> None:
    text = BELL.replace("h q[0];", "gate hh a { h a; }\nhh q[0];")
    assert not reader.cheap(text)
    first = check(reader, text)
    assert check(reader, text) is first  # kept, not read by a worker again
    other = asyncio.run(reader.check(text, Method.STABILIZER))  # another method: read for it
    assert other == first and other is not first
    with pytest.raises(ProgramError):
        check(reader, BELL.replace("h q[0];", "nothing q[0];"))
    with pytest.raises(ProgramError):  # a refusal is not kept: the program is read again
        check(reader, BELL.replace("h q[0];", "nothing q[0];"))
