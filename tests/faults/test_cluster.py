"""Drills on a Kafka cluster: three KRaft nodes (each broker and controller), the topics with
3 replicas and min.insync.replicas 2, clients submitting all along (docs/development.md, "A
local cluster and its drills").

Each drill is a test on a stack of its own (API, materializer, one or two processors) on the
module's cluster (the ``kafka_cluster`` fixture), which is made whole again before and after
each drill. Each checks what a client can see: every answer is a 202 or a 503 (never another
5xx), within ``API_SUBMIT_TIMEOUT_S``; every 202 is a record the log kept and ends in exactly
one terminal state visible through GET, which stays; a task that ran twice (the log has two
results) shows the first of its generation, and both runs had the same outcome.

Slow by nature (marked ``slow``): a node must be fenced (4 s) or a processor leave its group
(``BROKER_SESSION_TIMEOUT``, 10 s here) before anything moves, and two drills pause a broker
for 30 s. About 5 minutes on 2 cores.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.partitioner import murmur2

from deploy.broker import KafkaBroker, KafkaCluster
from schemas.events import TaskResult
from tests.helpers import BELL, TERMINAL, medium_program, read_topic, wait_for
from tests.services import Services
from tests.stack import Stack

pytestmark = pytest.mark.slow

SUBMIT_TIMEOUT_S = 3.0
#: An answer may take the API's time limit plus this (a loaded 2-core machine).
ANSWER_MARGIN_S = 2.0
#: Faust's consumer session (its BROKER_SESSION_TIMEOUT variable; 60 s by default): a
#: processor that stops heartbeating leaves the group, and its partitions move, after it.
PROCESSOR_SESSION_S = 10
PARTITIONS = 3
#: How long the broker stays stopped (SIGSTOP) in the pause drill.
BROKER_PAUSE_S = 30.0
#: After it runs again, every task accepted so far ends within this. Usually a few seconds;
#: the bound is past the consumer's request timeout (Faust's 90 s), the longest a client waits
#: for an answer to a request the frozen node took in and never answered.
RECOVERY_S = 120.0


# The cluster, as an admin client sees it.


async def _admin_call(bootstrap: str, call: Callable[[AIOKafkaAdminClient], Any]) -> Any:
    """``call(admin)``, tried again while it fails for a node that is down (the admin client
    sends to a node of its choice, which may be the one a drill just took away)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    await admin.start()
    try:
        for attempt in range(20):
            try:
                return await call(admin)
            except KafkaError:
                if attempt == 19:
                    raise
                await asyncio.sleep(0.3)
    finally:
        await admin.close()


def describe(bootstrap: str, topics: list[str] | None = None) -> list[dict[str, Any]]:
    """describe_topics of ``topics`` (every topic when None)."""

    async def call(admin: AIOKafkaAdminClient) -> Any:
        names = topics if topics is not None else await admin.list_topics()
        return await admin.describe_topics(names)

    return asyncio.run(_admin_call(bootstrap, call))


def partition_leaders(bootstrap: str, topics: list[str]) -> collections.Counter[int]:
    """How many of the topics' partitions each node leads."""
    return collections.Counter(
        p["leader"] for t in describe(bootstrap, topics) for p in t["partitions"]
    )


def coordinator(bootstrap: str, group: str) -> int:
    return asyncio.run(_admin_call(bootstrap, lambda admin: admin.find_coordinator(group)))


def fully_replicated(bootstrap: str) -> bool:
    """Every partition of every topic led, with every replica in sync."""
    try:
        described = describe(bootstrap)
    except Exception:  # a node still starting: not yet
        return False
    return all(
        t["error_code"] == 0
        and all(
            p["leader"] >= 0 and sorted(p["isr"]) == sorted(p["replicas"]) for p in t["partitions"]
        )
        for t in described
    )


def make_whole(cluster: KafkaCluster) -> None:
    """Every node running (resumed, restarted) and every replica in sync."""
    for node in cluster:
        if node.paused:
            node.resume()
        if not node.running:
            node.start()
    cluster.wait_ready(timeout=120)
    wait_for(lambda: fully_replicated(cluster.bootstrap), 120, "every replica in sync", every=0.5)


# Clients submitting all along.


@dataclass
class Answer:
    started: float  # time.monotonic()
    elapsed: float
    status: int  # 0: no HTTP answer (a transport error)
    task_id: str | None
    detail: str = ""
    retry_after: bool = False


@dataclass
class Load:
    """``clients`` threads, each submitting one task after another (``program(i)``), pausing
    ``pause_s`` after a 202 and 0.2 s after anything else."""

    stack: Stack
    program: Callable[[int], str] = lambda i: BELL
    clients: int = 2
    pause_s: float = 0.05
    shots: int = 20
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _count: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> Load:
        for n in range(self.clients):
            thread = threading.Thread(target=self._submit, name=f"load-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def _next(self) -> int:
        with self._lock:
            self._count += 1
            return self._count

    def _submit(self) -> None:
        with httpx.Client(base_url=self.stack.url, timeout=60) as client:
            while not self._stop.is_set():
                i = self._next()
                body = {"qc": self.program(i), "shots": self.shots, "seed": i}
                started = time.monotonic()
                try:
                    response = client.post("/tasks", json=body)
                except httpx.HTTPError as exc:
                    answer = Answer(started, time.monotonic() - started, 0, None, repr(exc))
                else:
                    accepted = response.status_code == 202
                    answer = Answer(
                        started,
                        time.monotonic() - started,
                        response.status_code,
                        response.json()["task_id"] if accepted else None,
                        "" if accepted else response.text[:300],
                        bool(response.headers.get("retry-after")),
                    )
                self.answers.append(answer)
                self._stop.wait(self.pause_s if answer.status == 202 else 0.2)

    @property
    def accepted(self) -> list[str]:
        return [a.task_id for a in list(self.answers) if a.task_id is not None]

    def since(self, moment: float) -> list[Answer]:
        """The answers to the requests sent from ``moment`` on."""
        return [a for a in list(self.answers) if a.started >= moment]

    def wait_accepted(self, count: int, after: float = 0.0, timeout: float = 90) -> None:
        wait_for(
            lambda: sum(a.status == 202 for a in self.since(after)) >= count,
            timeout,
            f"{count} tasks accepted",
        )


# What every drill checks.


def outcome_of(doc: dict[str, Any]) -> tuple[str | None, datetime | None]:
    """Which run a GET document shows: its processor and when it finished."""
    finished = doc.get("finished_at")
    moment = datetime.fromisoformat(finished.replace("Z", "+00:00")) if finished else None
    return doc.get("processor"), moment


def check_answers(load: Load) -> dict[str, Any]:
    answers = list(load.answers)
    codes = collections.Counter(a.status for a in answers)
    odd = [a for a in answers if a.status not in (202, 503)]
    assert not odd, f"answers other than 202 and 503: {odd[:5]}"
    assert all(a.retry_after for a in answers if a.status == 503), "a 503 without Retry-After"
    slowest = max(a.elapsed for a in answers)
    assert slowest <= SUBMIT_TIMEOUT_S + ANSWER_MARGIN_S, f"an answer took {slowest:.2f} s"
    return {
        "requests": len(answers),
        "accepted": codes[202],
        "503": codes[503],
        "slowest_s": slowest,
    }


def check_outcomes(stack: Stack, accepted: list[str], timeout: float = 180) -> dict[str, Any]:
    """Every accepted task on the log, then terminal (completed) through GET, exactly once:
    the state stays, a task with several results on the log had the same outcome in each,
    and GET shows the first of its newest generation. Returns the figures."""
    bootstrap = stack.services.kafka_bootstrap
    logged = {r.key.decode() for r in read_topic(bootstrap, stack.topics.submitted)}
    not_on_log = [t for t in accepted if t not in logged]
    assert not not_on_log, f"{len(not_on_log)} tasks answered 202 are not on the log"

    docs: dict[str, dict[str, Any]] = wait_for(
        lambda: (
            (found := {t: stack.status(t) for t in accepted})
            and all(d["state"] in TERMINAL for d in found.values())
            and found
        ),
        timeout,
        f"{len(accepted)} accepted tasks to end",
        every=1,
    )
    states = collections.Counter(d["state"] for d in docs.values())
    assert states == {"completed": len(accepted)}, states

    ours = set(accepted)
    results: dict[str, list[TaskResult]] = collections.defaultdict(list)
    for record in read_topic(bootstrap, stack.topics.results):
        if record.key is not None and record.key.decode() in ours:
            results[record.key.decode()].append(TaskResult.decode(record.value))
    assert not [t for t in accepted if not results[t]], "accepted tasks without a result"
    twice = {t: r for t, r in results.items() if len(r) > 1}
    for task_id, runs in twice.items():
        newest = max(r.generation for r in runs)
        runs = [r for r in runs if r.generation == newest]
        outcomes = {(r.status, tuple(sorted((r.counts or {}).items()))) for r in runs}
        assert len(outcomes) == 1, f"task {task_id} has two outcomes on the log: {outcomes}"
        first = runs[0]
        shown = outcome_of(docs[task_id])
        assert shown == (first.processor, first.finished_at), (
            f"task {task_id}: GET shows the run of {shown}, not the first on the log "
            f"({first.processor}, {first.finished_at}); runs: "
            f"{[(r.processor, r.finished_at) for r in runs]}"
        )
    # A second look: nothing changed.
    again = {t: stack.status(t) for t in accepted}
    changed = [t for t in accepted if outcome_of(again[t]) != outcome_of(docs[t])]
    assert not changed, f"{len(changed)} outcomes changed after the fact"
    return {"completed": states["completed"], "ran_twice": len(twice), "results": results}


def report(name: str, figures: dict[str, Any]) -> None:
    shown = {k: (round(v, 2) if isinstance(v, float) else v) for k, v in figures.items()}
    print(f"\n{name}: {shown}")


# Fixtures.


@pytest.fixture
def cluster(kafka_cluster: Services) -> Iterator[KafkaCluster]:
    """The module's cluster, whole before the drill and made whole again after it."""
    found = kafka_cluster.cluster
    assert found is not None
    make_whole(found)
    yield found
    make_whole(found)


@pytest.fixture
def make_stack_on(
    kafka_cluster: Services, cluster: KafkaCluster, tmp_path: Path
) -> Iterator[Callable[..., Stack]]:
    """``make_stack_on(processors=1, **env)``: a stack on the cluster, stopped after the test."""
    started: list[Stack] = []

    def make(processors: int = 1, **env: str) -> Stack:
        settings = {
            "QC_TOPIC_PARTITIONS": str(PARTITIONS),
            "QC_TOPIC_REPLICATION": "3",
            "API_SUBMIT_TIMEOUT_S": str(SUBMIT_TIMEOUT_S),
            "PROCESSOR_WORKERS": "1",
            "BROKER_SESSION_TIMEOUT": str(PROCESSOR_SESSION_S),
            "BROKER_HEARTBEAT_INTERVAL": "1",
            **env,
        }
        stack = Stack(kafka_cluster, tmp_path, **settings)
        started.append(stack)
        return stack.start(processors=processors)

    yield make
    for stack in started:
        stack.stop()


def topics_of(stack: Stack) -> list[str]:
    return [spec.name for spec in stack.topics.specs()]


def leader_of_most(cluster: KafkaCluster, stack: Stack) -> KafkaBroker:
    leaders = partition_leaders(cluster.bootstrap, topics_of(stack))
    node_id, _ = leaders.most_common(1)[0]
    return cluster.node(node_id)


def pids(stack: Stack) -> dict[str, int | None]:
    return {p.name: p.pid for p in [stack.api, stack.materializer, *stack.processors]}


# The drills.


def test_topics_are_replicated_three_times_with_two_in_sync(
    cluster: KafkaCluster, make_stack_on: Callable[..., Stack]
) -> None:
    stack = make_stack_on()
    described = describe(cluster.bootstrap, topics_of(stack))
    assert all(len(p["replicas"]) == 3 for t in described for p in t["partitions"])

    async def configs(admin: AIOKafkaAdminClient) -> Any:
        from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

        resources = [ConfigResource(ConfigResourceType.TOPIC, name) for name in topics_of(stack)]
        return await admin.describe_configs(resources)

    (response,) = asyncio.run(_admin_call(cluster.bootstrap, configs))
    for resource in response.resources:
        entries = {entry[0]: entry[1] for entry in resource[4]}
        assert entries["min.insync.replicas"] == "2", (resource[3], entries)


def test_sigkill_of_the_leader_of_most_partitions(
    cluster: KafkaCluster, make_stack_on: Callable[..., Stack]
) -> None:
    stack = make_stack_on()
    with Load(stack) as load:
        load.wait_accepted(20)
        victim = leader_of_most(cluster, stack)
        led = partition_leaders(cluster.bootstrap, topics_of(stack))[victim.node_id]
        killed_at = time.monotonic()
        victim.kill()
        wait_for(
            lambda: victim.node_id not in partition_leaders(cluster.bootstrap, topics_of(stack)),
            60,
            "new leaders for every partition",
        )
        moved_s = time.monotonic() - killed_at
        load.wait_accepted(20, after=time.monotonic())
        victim.start()  # back under load: it catches up and rejoins every ISR
        victim.wait_ready(120)
        load.wait_accepted(10, after=time.monotonic())
    figures = check_answers(load) | {"node": victim.node_id, "led": led, "leaders_moved_s": moved_s}
    figures |= _refusals(load, killed_at)
    outcomes = check_outcomes(stack, load.accepted)
    report("SIGKILL of the leader of most partitions", figures | _short(outcomes))


def test_sigkill_of_the_group_coordinator(
    cluster: KafkaCluster, make_stack_on: Callable[..., Stack]
) -> None:
    stack = make_stack_on()
    group = stack.env["PROCESSOR_ID"]
    with Load(stack) as load:
        load.wait_accepted(20)
        before = coordinator(cluster.bootstrap, group)
        victim = cluster.node(before)
        killed_at = time.monotonic()
        victim.kill()
        # Both groups (the processors', the materializer's) find their new coordinator, and
        # tasks accepted after the kill are consumed, run and shown.
        after = wait_for(
            lambda: (
                (found := _try(lambda: coordinator(cluster.bootstrap, group), before)) != before
                and found
            ),
            60,
            "a new coordinator",
        )
        load.wait_accepted(20, after=time.monotonic())
        recent = load.accepted[-10:]
        wait_for(
            lambda: all(stack.status(t)["state"] == "completed" for t in recent),
            90,
            "tasks accepted after the kill to complete",
        )
        resumed_s = time.monotonic() - killed_at
        stack.wait_group(group, 1)
        stack.wait_group(stack.env["MATERIALIZER_GROUP"], 1)
        victim.start()
        victim.wait_ready(120)
        load.wait_accepted(10, after=time.monotonic())
    figures = check_answers(load) | {"coordinator": f"{before} -> {after}"}
    figures |= {"work_flowing_again_s": resumed_s} | _refusals(load, killed_at)
    outcomes = check_outcomes(stack, load.accepted)
    report("SIGKILL of the group coordinator", figures | _short(outcomes))


def test_two_of_three_brokers_stopped(
    cluster: KafkaCluster, make_stack_on: Callable[..., Stack]
) -> None:
    stack = make_stack_on()
    with Load(stack, clients=3) as load:
        load.wait_accepted(20)
        staying = leader_of_most(cluster, stack)
        first, second = [node for node in cluster if node is not staying]
        first.stop()
        load.wait_accepted(10, after=time.monotonic())  # one of three away: writes go on
        second.stop()
        down_at = time.monotonic()
        # Every request sent while two of three are down is refused: no 202 the log did
        # not keep on two brokers.
        wait_for(lambda: len(load.since(down_at)) >= 15, 60, "requests while two are down")
        during = load.since(down_at)
        back_at = time.monotonic()
        for node in (first, second):
            node.start()
        for node in (first, second):
            node.wait_ready(120)
        load.wait_accepted(20, after=time.monotonic())
    assert during and all(a.status == 503 for a in during), collections.Counter(
        a.status for a in during
    )
    figures = check_answers(load) | {"down": [first.node_id, second.node_id]}
    figures |= {"while_down": len(during), "down_s": back_at - down_at}
    figures |= {"first_202_after_restart_s": _first_202_after(load, back_at)}
    outcomes = check_outcomes(stack, load.accepted)
    report("two of three brokers stopped", figures | _short(outcomes))


def test_processor_sigkill_while_the_other_runs(
    cluster: KafkaCluster, make_stack_on: Callable[..., Stack]
) -> None:
    programs = [medium_program(seed, qubits=14, depth=10) for seed in range(8)]
    stack = make_stack_on(processors=2)
    victim, survivor = stack.processors
    with Load(stack, program=lambda i: programs[i % len(programs)], shots=100) as load:
        load.wait_accepted(40)
        owners = _partition_owners(stack, load.accepted)
        assert set(owners.values()) == {victim.pid, survivor.pid}, owners
        killed_at = time.monotonic()
        victim.kill()  # SIGKILL: no commit, no hand-over
        stack.wait_group(stack.env["PROCESSOR_ID"], 1)
        moved_s = time.monotonic() - killed_at
        after_kill = len(load.accepted)
        load.wait_accepted(30, after=time.monotonic())
    figures = check_answers(load) | {"group_of_one_after_s": moved_s}
    outcomes = check_outcomes(stack, load.accepted)
    # Its partitions moved: every partition's later tasks ran on the survivor.
    later = _partition_owners(stack, load.accepted[after_kill:])
    assert set(later) == set(range(PARTITIONS)) and set(later.values()) == {survivor.pid}, later
    report("SIGKILL of one processor of two", figures | _short(outcomes))


def test_paused_processor_comes_back_as_a_zombie(
    cluster: KafkaCluster, make_stack_on: Callable[..., Stack]
) -> None:
    """A processor frozen (SIGSTOP) past its session with a task running: its partitions move,
    the other processor runs the task again; resumed (SIGCONT), the zombie finishes its run
    and publishes a second result, which must not replace the outcome already shown."""
    programs = [medium_program(seed, qubits=14, depth=10) for seed in range(8)]
    slow = medium_program(99, qubits=21, depth=24)  # about 1-3 s on Aer
    stack = make_stack_on(processors=2)
    zombie, other = stack.processors
    with Load(stack, program=lambda i: programs[i % len(programs)], shots=100) as load:
        load.wait_accepted(30)
        owners = _partition_owners(stack, load.accepted)
        theirs = {p for p, pid in owners.items() if pid == zombie.pid}
        assert theirs, owners
        # A slow task on one of its partitions, running there when the processor freezes.
        slow_ids = _submit_to(stack, slow, theirs)
        slow_id = slow_ids[-1]
        wait_for(
            lambda: (
                (d := stack.status(slow_id))["state"] == "running"
                and _pid(d["processor"]) == zombie.pid
            ),
            60,
            "the slow task running on the processor to freeze",
            every=0.05,
        )
        zombie.pause()
        paused_at = time.monotonic()
        stack.wait_group(stack.env["PROCESSOR_ID"], 1)
        moved_s = time.monotonic() - paused_at
        done = stack.wait_terminal(slow_id, timeout=90)
        assert _pid(done["processor"]) == other.pid, done
        zombie.resume()
        resumed_at = time.monotonic()
        # The zombie finishes its run of the slow task and publishes it too.
        wait_for(
            lambda: len(_results_of(stack, slow_id)) >= 2,
            60,
            "the zombie's late result on the log",
            every=0.5,
        )
        stack.wait_group(stack.env["PROCESSOR_ID"], 2)
        load.wait_accepted(20, after=time.monotonic())
    figures = check_answers(load) | {"partitions_moved_after_s": moved_s}
    figures |= {"paused_s": resumed_at - paused_at}
    outcomes = check_outcomes(stack, [*load.accepted, *slow_ids])
    runs = outcomes["results"][slow_id]
    # The zombie's run is on the log after the other's, and GET still shows the other's.
    assert [_pid(r.processor) for r in runs] == [other.pid, zombie.pid], runs
    assert _pid(stack.status(slow_id)["processor"]) == other.pid
    zombies = [
        t
        for t, rs in outcomes["results"].items()
        if len(rs) > 1 and _pid(rs[-1].processor) == zombie.pid
    ]
    report(
        "SIGSTOP of a processor past its session",
        figures | _short(outcomes) | {"zombie_results": len(zombies)},
    )


@pytest.mark.parametrize("frozen", ["leader of most partitions", "the processors' coordinator"])
def test_broker_paused_for_30_seconds(
    frozen: str, cluster: KafkaCluster, make_stack_on: Callable[..., Stack]
) -> None:
    """A broker frozen (SIGSTOP) for 30 s: it holds its connections open and answers nothing.
    Clients get a 202 or a 503 within the API's time limit all along; once it runs again,
    everything accepted completes soon, and nothing was restarted. Frozen: the leader of most
    partitions, or the processors' group coordinator (their group then rebalances while a
    broker is frozen: a partition kept across it must be read on)."""
    stack = make_stack_on()
    before = pids(stack)
    with Load(stack) as load:
        load.wait_accepted(20)
        if frozen == "leader of most partitions":
            victim = leader_of_most(cluster, stack)
        else:
            victim = cluster.node(coordinator(cluster.bootstrap, stack.env["PROCESSOR_ID"]))
        victim.pause()
        paused_at, paused_wall = time.monotonic(), datetime.now(UTC)
        try:
            # Two of three still make a cluster: writes go on once the frozen node is fenced.
            wait_for(
                lambda: any(a.status == 202 for a in load.since(paused_at + 6)),
                BROKER_PAUSE_S,
                "202s again while the broker is frozen",
            )
            time.sleep(max(0.0, paused_at + BROKER_PAUSE_S - time.monotonic()))
        finally:
            victim.resume()
        resumed_at, resumed_wall = time.monotonic(), datetime.now(UTC)
        # Recovery: every task accepted until now completes within a minute of the resume.
        so_far = load.accepted
        try:
            wait_for(
                lambda: all(stack.status(t)["state"] in TERMINAL for t in so_far),
                RECOVERY_S,
                f"the {len(so_far)} tasks accepted so far to end after the resume",
                every=1,
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{_unfinished(stack, so_far)}") from None
        caught_up_s = time.monotonic() - resumed_at
        victim.wait_ready(60)
        wait_for(lambda: fully_replicated(cluster.bootstrap), 120, "the node back in sync")
        load.wait_accepted(20, after=time.monotonic())
    during = [a for a in load.answers if paused_at <= a.started < resumed_at]
    figures = check_answers(load) | {"node": victim.node_id, "paused_s": resumed_at - paused_at}
    figures |= {"503_while_paused": sum(a.status == 503 for a in during)}
    figures |= {"202_while_paused": sum(a.status == 202 for a in during)}
    figures |= _refusals(load, paused_at)
    outcomes = check_outcomes(stack, load.accepted)
    figures |= {"caught_up_after_resume_s": caught_up_s}
    figures |= {
        "completed_while_paused": sum(
            paused_wall <= r[0].finished_at < resumed_wall for r in outcomes["results"].values()
        )
    }
    # Recovered without a restart: the same processes, all running.
    assert pids(stack) == before and all(
        p.running for p in [stack.api, stack.materializer, *stack.processors]
    )
    report(f"a broker paused for 30 s ({frozen})", figures | _short(outcomes))


# Small helpers of the drills.


def _unfinished(stack: Stack, tasks: list[str]) -> str:
    """What a failed recovery left: the unfinished tasks by state, and the processes' last words."""

    def state_of(task_id: str) -> str:
        return _try(lambda: stack.status(task_id)["state"], "unknown")

    state = {t: state_of(t) for t in tasks}
    lines = [f"states: {dict(collections.Counter(state.values()))}"]
    stuck = collections.Counter(partition_of(t) for t in tasks if state[t] not in TERMINAL)
    lines.append(f"unfinished by partition: {dict(stuck)}")
    group, submitted = stack.env["PROCESSOR_ID"], stack.topics.submitted

    async def offsets(admin: AIOKafkaAdminClient) -> Any:
        return await admin.list_consumer_group_offsets(group)

    committed = _try(lambda: asyncio.run(_admin_call(stack.services.kafka_bootstrap, offsets)), {})
    lines.append(
        "committed: "
        + str({tp.partition: m.offset for tp, m in committed.items() if tp.topic == submitted})
    )
    leaders = _try(lambda: describe(stack.services.kafka_bootstrap, [submitted]), "")
    lines.append(f"leaders: {leaders}")
    for process in [*stack.processors, stack.materializer]:
        if process.log_path is not None and process.log_path.exists():
            logged = process.log_path.read_text(errors="replace").splitlines()
            # Under load the tail is all completions: the warnings first (a stalled
            # partition's gates, processor/stalls.py), then the last lines.
            warned = [line for line in logged if '"level":"WARNING"' in line or "ERROR" in line]
            lines += [f"--- {process.name} ({process.log_path}): warnings", *warned[-60:]]
            lines += [f"--- {process.name}: last lines", *logged[-15:]]
    return "\n".join(lines)


def _try(call: Callable[[], Any], default: Any) -> Any:
    try:
        return call()
    except Exception:
        return default


def _first_202_after(load: Load, moment: float) -> float | None:
    """Seconds from ``moment`` to the answer of the first 202 sent from then on."""
    firsts = [a.started + a.elapsed for a in load.since(moment) if a.status == 202]
    return min(firsts) - moment if firsts else None


def _refusals(load: Load, fault_at: float) -> dict[str, Any]:
    """503s to requests sent from the fault on, and how long after it the last one came."""
    refused = [a.started + a.elapsed - fault_at for a in load.since(fault_at) if a.status == 503]
    return {"503_after_fault": len(refused), "last_503_after_s": max(refused, default=None)}


def _short(outcomes: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in outcomes.items() if k != "results"}


def _results_of(stack: Stack, task_id: str) -> list[TaskResult]:
    records = read_topic(stack.services.kafka_bootstrap, stack.topics.results)
    return [TaskResult.decode(r.value) for r in records if r.key == task_id.encode()]


def _pid(processor: str | None) -> int | None:
    """The pid in a result's ``processor`` (host:pid)."""
    return int(processor.rsplit(":", 1)[1]) if processor else None


def partition_of(task_id: str) -> int:
    """The partition of qc.submitted the API's producer chose for the task (the default
    partitioner: murmur2 of the key)."""
    return (murmur2(task_id.encode()) & 0x7FFFFFFF) % PARTITIONS


def _partition_owners(stack: Stack, task_ids: list[str]) -> dict[int, int | None]:
    """Which processor (pid) ran the latest completed task of each partition."""
    owners: dict[int, int | None] = {}
    for task_id in task_ids:
        doc = stack.status(task_id)
        if doc["state"] == "completed":
            owners[partition_of(task_id)] = _pid(doc["processor"])
    return owners


def _submit_to(stack: Stack, program: str, partitions: set[int]) -> list[str]:
    """Submit ``program`` until a task lands on one of ``partitions`` (the last of the tasks
    returned; the others run too)."""
    submitted = []
    for seed in range(50):
        submitted.append(stack.submit(program, shots=100, seed=seed))
        if partition_of(submitted[-1]) in partitions:
            return submitted
    raise AssertionError(f"no task on partitions {partitions} in 50 tries")
