"""Redis restarted empty (its data lost) or from an older snapshot under a running stack:
submissions keep being accepted (the log is what counts), GETs answer 503 while Redis is away,
never 5xx of another kind or a wrong answer, and afterwards the view converges to the log with
every task, without restarting any component. Uses a redis-server of its own."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator

import pytest

from deploy.redis_server import RedisServer
from tests.helpers import BELL, all_terminal, all_terminal_or_none, wait_for
from tests.services import Services
from tests.stack import MakeStack


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    redis = RedisServer(tmp_path_factory.mktemp("redis"))
    redis.start()
    redis.wait_ready(timeout=30)
    yield redis
    redis.stop()


def test_redis_restarted_empty_loses_no_task(
    real_services: Services, own_redis: RedisServer, make_stack: MakeStack
) -> None:
    stack = make_stack(services=Services(real_services.kafka_bootstrap, own_redis.url))
    first = [stack.submit(BELL, shots=32, seed=i) for i in range(20)]
    before = wait_for(lambda: all_terminal(stack, first), 120, "the first tasks")

    own_redis.stop()
    shutil.rmtree(own_redis.data_dir)  # its append-only file too: it comes back empty
    during = [stack.submit(BELL, shots=32, seed=100 + i) for i in range(10)]
    answer = stack.client.get(f"/tasks/{first[0]}")
    assert answer.status_code == 503 and answer.headers["Retry-After"], answer.text
    own_redis.start()
    own_redis.wait_ready(timeout=30)

    everything = first + during
    after = wait_for(lambda: all_terminal_or_none(stack, everything), 180, "the view back")
    assert {task_id: after[task_id] for task_id in first} == before
    assert all(after[task_id]["status"] == "completed" for task_id in during)
    print(f"\nredis restarted empty: {len(everything)} accepted, 0 lost")


def test_redis_restored_from_an_older_snapshot_converges_to_the_log(
    real_services: Services, own_redis: RedisServer, make_stack: MakeStack, tmp_path
) -> None:
    """Redis killed with -9 and started again from a copy of its data taken earlier (a backup
    restored): the view holds older offsets than the materializer wrote. The materializer
    notices (its expected offsets are ahead of the view's) and reads the log again from the
    view's position, so every task comes back, under load, without a manual rebuild."""
    stack = make_stack(services=Services(real_services.kafka_bootstrap, own_redis.url))
    first = [stack.submit(BELL, shots=32, seed=200 + i) for i in range(10)]
    before = wait_for(lambda: all_terminal(stack, first), 120, "the first tasks")
    time.sleep(1.5)  # the append-only file is written to disk every second
    snapshot = tmp_path / "snapshot"
    shutil.copytree(own_redis.data_dir, snapshot)

    second = [stack.submit(BELL, shots=32, seed=300 + i) for i in range(20)]
    done = wait_for(lambda: all_terminal(stack, second), 120, "the tasks after the snapshot")
    own_redis.kill()
    shutil.rmtree(own_redis.data_dir)
    shutil.copytree(snapshot, own_redis.data_dir)
    own_redis.start()
    own_redis.wait_ready(timeout=30)
    # The snapshot's view knows nothing of the second batch; load goes on meanwhile.
    third = [stack.submit(BELL, shots=32, seed=400 + i) for i in range(10)]

    everything = first + second + third
    after = wait_for(lambda: all_terminal_or_none(stack, everything), 120, "the view to converge")
    assert {task_id: after[task_id] for task_id in first} == before
    assert {task_id: after[task_id] for task_id in second} == done
    assert all(after[task_id]["status"] == "completed" for task_id in third)
    print(f"\nredis restored from an older snapshot: {len(everything)} tasks, 0 lost")
