"""Each topic's min.insync.replicas follows its replicas (runtime/topics.py): 2 from 3 replicas
on, so that one broker away neither loses an acknowledged record nor stops the writes; 1 below."""

from __future__ import annotations

import pytest

from runtime.topics import min_insync_replicas


@pytest.mark.parametrize(("replication", "expected"), [(1, 1), (2, 1), (3, 2), (4, 2), (5, 2)])
def test_min_insync_replicas(replication: int, expected: int) -> None:
    assert min_insync_replicas(replication) == expected
