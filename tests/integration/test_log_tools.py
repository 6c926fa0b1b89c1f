"""The log as a product (issue: replay, rebuild, downstream contracts, CLI) on the real broker
and Redis: ``qcexec replay`` reprocesses exactly its range, ``qcexec rebuild-view`` restores
every task from the log without a wrong answer meanwhile, the example subscriber sees every
result, and ``qcexec submit --wait`` prints the counts."""

from __future__ import annotations

import asyncio
import json
import re
import sys
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from redis import Redis

from deploy.processes import ManagedProcess
from ops.log import reader, writer
from ops.replay import parse_position, replay
from schemas.events import TaskSubmitted, utcnow
from tests.helpers import BELL, all_terminal, all_terminal_or_none, read_topic, wait_for
from tests.stack import Stack, cli

REPO = Path(__file__).resolve().parents[2]


def submit_all(stack: Stack, seeds: range) -> list[str]:
    return [stack.submit(BELL, shots=64, seed=seed) for seed in seeds]


def test_replay_reprocesses_exactly_its_time_range(stack: Stack) -> None:
    before, during, after = submit_all(stack, range(0, 4)), [], []
    first = wait_for(lambda: all_terminal(stack, before), 120, "the tasks before the range")
    start = utcnow().isoformat()
    during = submit_all(stack, range(10, 14))
    originals = wait_for(lambda: all_terminal(stack, during), 120, "the tasks in the range")
    stop = utcnow().isoformat()
    after = submit_all(stack, range(20, 23))
    wait_for(lambda: all_terminal(stack, after), 120, "the tasks after the range")

    output = cli(stack, "replay", "--from", start, "--to", stop)
    generation = int(re.search(r"4 task\(s\) republished as generation (\d+)", output)[1])

    def replayed() -> dict[str, dict] | None:
        found = all_terminal(stack, during)
        return found if all(d.get("generation") == generation for d in found.values()) else None

    now = wait_for(replayed, 120, "the replayed results in the view")
    for task_id in during:  # a rerun with the same seed gives the same counts
        assert now[task_id]["result"] == originals[task_id]["result"]
        assert now[task_id]["finished_at"] > originals[task_id]["finished_at"]
    assert all_terminal(stack, before) == first  # outside the range: untouched
    assert all("generation" not in doc for doc in all_terminal(stack, after).values())
    newer = {
        TaskSubmitted.decode(r.value).task_id
        for r in read_topic(stack.services.kafka_bootstrap, stack.topics.submitted)
        if TaskSubmitted.decode(r.value).generation == generation
    }
    assert newer == set(during)
    print(f"\nreplay: {len(during)} of {len(before + during + after)} tasks in range, rerun")


def test_replay_with_overrides_reruns_its_range_under_that_configuration(stack: Stack) -> None:
    before = submit_all(stack, range(30, 33))
    first = wait_for(lambda: all_terminal(stack, before), 120, "the tasks before the range")
    start = utcnow().isoformat()
    during = submit_all(stack, range(40, 43))
    wait_for(lambda: all_terminal(stack, during), 120, "the tasks in the range")
    stop = utcnow().isoformat()
    noise = {"depolarizing": {"one_qubit": 0.0, "two_qubit": 0.0}, "readout": 0.25}
    output = cli(
        stack, "replay", "--from", start, "--to", stop,
        "--noise", json.dumps(noise), "--method", "density_matrix", "--shots", "400",
    )  # fmt: skip
    generation = int(re.search(r"3 task\(s\) republished as generation (\d+)", output)[1])

    def replayed() -> dict[str, dict] | None:
        found = all_terminal(stack, during)
        return found if all(d.get("generation") == generation for d in found.values()) else None

    now = wait_for(replayed, 120, "the replayed results in the view")
    for doc in now.values():
        assert doc["status"] == "completed", doc
        assert doc["overrides"] == ["method", "noise", "shots"]
        assert doc["method"] == "density_matrix" and doc["noise"] == noise
        assert doc["shots"] == 400 and sum(doc["result"].values()) == 400
        # A noiseless Bell state never reads 01 or 10; a readout error of 1/4 reads them about
        # 3/8 of the time.
        assert 80 < doc["result"].get("01", 0) + doc["result"].get("10", 0) < 220, doc
    assert all_terminal(stack, before) == first  # outside the range: untouched
    records = [
        TaskSubmitted.decode(r.value)
        for r in read_topic(stack.services.kafka_bootstrap, stack.topics.submitted)
    ]
    overridden = {r.task_id for r in records if r.overrides}
    assert overridden == set(during)
    assert all(r.generation == generation for r in records if r.overrides)


async def _replay_offsets(bootstrap: str, topic: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()
    tasks = [
        TaskSubmitted(task_id=str(uuid.uuid4()), qasm=BELL, shots=8, seed=i, submitted_at=utcnow())
        for i in range(6)
    ]
    async with writer(bootstrap) as producer:
        for task in [*tasks, tasks[2]]:  # offset 6 repeats the task at offset 2
            await producer.send_and_wait(topic, task.encode(), key=task.task_id.encode())
        async with reader(bootstrap, [topic]) as consumer:
            done = await replay(consumer, producer, topic, 2, 7)
    assert done.ranges == {0: (2, 7)} and done.skipped == 1
    return [task.task_id for task in tasks]


def test_replay_by_offsets_republishes_that_range_once_per_task(stack: Stack) -> None:
    topic = f"{stack.prefix}replay-offsets"
    ids = asyncio.run(_replay_offsets(stack.services.kafka_bootstrap, topic))
    records = read_topic(stack.services.kafka_bootstrap, topic)
    republished = [TaskSubmitted.decode(record.value) for record in records[7:]]
    assert [task.task_id for task in republished] == ids[2:6]
    assert len({task.generation for task in republished}) == 1 and republished[0].generation > 0


def test_rebuild_view_restores_every_task_from_an_empty_redis(stack: Stack) -> None:
    task_ids = submit_all(stack, range(100, 120))
    before = wait_for(lambda: all_terminal(stack, task_ids), 120, "the tasks")
    stack.materializer.stop()
    try:
        assert stack.drop_view() > len(task_ids)
        assert stack.client.get(f"/tasks/{task_ids[0]}").status_code == 404
        output = cli(stack, "rebuild-view")
        assert "is active" in output
        assert {task_id: stack.status(task_id) for task_id in task_ids} == before
    finally:
        stack.materializer.start()
    # The materializer carries on from the rebuilt view's offsets.
    later = submit_all(stack, range(120, 125))
    wait_for(lambda: all_terminal_or_none(stack, later), 120, "tasks after the rebuild")


def test_rebuild_view_under_load_never_answers_wrong(stack: Stack) -> None:
    done_ids = submit_all(stack, range(200, 210))
    done = wait_for(lambda: all_terminal(stack, done_ids), 120, "the finished tasks")
    stop, wrong, accepted = threading.Event(), [], []

    def watch() -> None:  # finished tasks must stay finished, new ones must be found
        with httpx.Client(base_url=stack.url, timeout=30) as client:
            while not stop.is_set():
                accepted.append(stack.submit(BELL, shots=16))
                for task_id in [*done_ids, accepted[-1]]:
                    answer = client.get(f"/tasks/{task_id}")
                    if answer.status_code != 200 or (
                        task_id in done and answer.json() != done[task_id]
                    ):
                        wrong.append((task_id, answer.status_code, answer.text))

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        wait_for(lambda: len(accepted) >= 3, 60, "submissions before the rebuild")
        output = cli(stack, "rebuild-view")
    finally:
        stop.set()
        watcher.join()
    new_view = re.search(r"view (\S+) is active", output)[1]
    assert wrong == []
    wait_for(lambda: all_terminal_or_none(stack, accepted), 120, "tasks submitted meanwhile")
    redis = Redis(host=stack.services.redis_host, port=stack.services.redis_port)
    try:
        assert redis.get(f"{stack.prefix}active").decode() == new_view
        old = [k for k in redis.scan_iter(match=f"{stack.prefix}task:*", count=1000)]
        assert old == []
    finally:
        redis.close()
    print(f"\nrebuild under load: {len(accepted)} submitted meanwhile, 0 wrong answers")


def test_rebuild_view_refuses_while_another_rebuild_runs(stack: Stack) -> None:
    task_id = stack.wait_terminal(stack.submit(BELL, shots=16))["task_id"]
    redis = Redis(host=stack.services.redis_host, port=stack.services.redis_port)
    mark, other = f"{stack.prefix}building", f"{stack.prefix}v1:"
    try:
        active = redis.get(f"{stack.prefix}active")
        assert redis.set(mark, other, nx=True, ex=60)  # as another rebuild would
        output = cli(stack, "rebuild-view", exit_code=1)
        assert f"another rebuild is building {other}" in output
        assert redis.get(mark).decode() == other  # left to the other rebuild
        assert redis.get(f"{stack.prefix}active") == active
        assert stack.status(task_id)["state"] == "completed"
        redis.delete(mark)  # the other rebuild ends
        assert "is active" in cli(stack, "rebuild-view")
        assert redis.get(mark) is None
    finally:
        redis.delete(mark)
        redis.close()


def test_example_subscriber_prints_every_result(stack: Stack, tmp_path: Path) -> None:
    log = tmp_path / "subscriber.log"
    subscriber = ManagedProcess(
        "subscriber",
        [
            sys.executable, str(REPO / "deploy/examples/subscriber.py"),
            "--bootstrap", stack.services.kafka_bootstrap,
            "--topic", stack.topics.results,
            "--group", f"{stack.prefix}subscriber",
            "--from-beginning",
        ],
        log_path=log,
    )  # fmt: skip
    subscriber.start()
    try:
        task_ids = submit_all(stack, range(300, 308))
        lines = wait_for(
            lambda: (
                (found := [ln for ln in log.read_text().splitlines() if ln[:36] in task_ids])
                and len({ln[:36] for ln in found}) == len(task_ids)
                and found
            ),
            120,
            "every result at the subscriber",
        )
    finally:
        subscriber.stop()
    for line in lines:
        _, status, counts = line.split(" ", 2)
        assert status == "completed" and set(json.loads(counts)) <= {"00", "11"}


def test_cli_submit_wait_prints_the_counts(stack: Stack, tmp_path: Path) -> None:
    program = tmp_path / "bell.qasm"
    program.write_text(BELL)
    output = cli(stack, "submit", str(program), "--shots", "200", "--seed", "5", "--wait")
    task_id = re.search(r"task (\S+) accepted", output)[1]
    bars = re.finditer(r"^\s*([01]{2})\s+█+\s+(\d+) \(", output, re.M)
    shown = {m[1]: int(m[2]) for m in bars}
    assert shown == stack.status(task_id)["result"] and sum(shown.values()) == 200
    assert task_id in cli(stack, "status", task_id)


@pytest.mark.parametrize("when", ["2026-11-30T10:00:00", "2026-11-30T10:00:00Z", "42"])
def test_replay_positions(when: str) -> None:
    found = parse_position(when)
    assert found == 42 if when == "42" else found == datetime(2026, 11, 30, 10, tzinfo=UTC)
