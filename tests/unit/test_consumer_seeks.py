"""Which partitions of a fetched batch the processor's consumer reads again (processor/consumer.py):
those sought while the batch was on its way, and only those, to where each seek put them. The
fault itself (records dropped after a rebalance that keeps a partition) is drilled on a real
cluster in tests/faults/test_cluster.py (the paused broker)."""

from __future__ import annotations

from types import SimpleNamespace

from faust.types import TP

from processor.consumer import Consumer

P0, P1, P2 = (TP("qc.submitted", p) for p in range(3))


def _consumer(sought: dict[TP, tuple[int, int | None]], seeks: int) -> SimpleNamespace:
    return SimpleNamespace(_sought=sought, _seeks=seeks)


def test_only_the_partitions_sought_during_the_fetch_are_read_again() -> None:
    # Seek 3 (P0 to its committed offset 40) and seek 4 (P1, nothing committed) came after the
    # fetch began at count 2; P2 was last sought at count 1, before it.
    consumer = _consumer({P0: (3, 40), P1: (4, None), P2: (1, 7)}, seeks=4)
    batch = {P0: [object()], P1: [object()], P2: [object()]}
    assert Consumer.sought_during(consumer, batch, before=2) == {P0: 40, P1: None}  # type: ignore[arg-type]


def test_a_batch_after_every_seek_is_handed_on_whole() -> None:
    consumer = _consumer({P0: (3, 40), P1: (4, None)}, seeks=4)
    batch = {P0: [object()], P1: [object()]}
    assert Consumer.sought_during(consumer, batch, before=4) == {}  # type: ignore[arg-type]


def test_empty_partitions_of_a_batch_are_not_sought() -> None:
    consumer = _consumer({P0: (3, 40)}, seeks=3)
    assert Consumer.sought_during(consumer, {P0: []}, before=0) == {}  # type: ignore[arg-type]


def test_a_consumer_never_sought_reads_nothing_again() -> None:
    consumer = SimpleNamespace(_seeks=0)
    assert Consumer.sought_during(consumer, {P0: [object()]}, before=0) == {}  # type: ignore[arg-type]
