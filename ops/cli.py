"""The ``qcexec`` command: operate the service from a terminal.

``submit`` and ``status`` talk to the HTTP API through ``qcexec_client`` (QCEXEC_URL,
QCEXEC_API_KEY); ``topics create``, ``replay`` and ``rebuild-view`` talk to the log and Redis
directly (KAFKA_BOOTSTRAP_SERVERS, REDIS_HOST, ...), as the operator's tools. The settings, the
HTTP client, the log, Redis and the view are imported inside the commands that use them, so
that ``qcexec --help`` loads little more than typer and the event models, and no command loads
Faust or Qiskit.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from schemas.events import Method, Noise

if TYPE_CHECKING:
    from qcexec_client import Client, Task

    from runtime.settings import Settings

app = typer.Typer(
    help="qcexec: run OpenQASM 3 programs through a Kafka-compatible log.",
    no_args_is_help=True,
    add_completion=False,
)
topics_app = typer.Typer(help="The service's topics.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")
console = Console(highlight=False)

POLL_S = 10  # each long-poll of ``submit --wait``


@contextlib.contextmanager
def _api(settings: Settings) -> Iterator[Client]:
    """The API's client; an API that does not answer, or answers an error, ends the command
    with the reason."""
    import httpx
    from qcexec_client import ApiError, Client

    try:
        with Client(settings.qcexec_url, settings.qcexec_api_key or "", timeout=POLL_S + 10) as api:
            yield api
    except httpx.TransportError as exc:
        console.print(f"[red]cannot reach the API at {settings.qcexec_url}[/red]: {exc!r}")
        raise typer.Exit(1) from exc
    except ApiError as exc:
        console.print(f"[red]{exc.status}[/red] {exc.reason}")
        raise typer.Exit(1) from exc


def histogram(counts: dict[str, int], width: int = 40) -> Table:
    """Counts as horizontal bars, most frequent outcome first."""
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(justify="right", style="bold")
    table.add_column()
    table.add_column(justify="right")
    total = sum(counts.values()) or 1
    top = max(counts.values(), default=1)
    for outcome, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        bar = "█" * max(1, round(width * count / top))
        table.add_row(outcome, f"[cyan]{bar}[/cyan]", f"{count} ({count / total:.1%})")
    return table


def _show(task: Task, observables: list[str | dict[str, float]] | None = None) -> None:
    console.print(f"task {task.task_id}: [bold]{task.state or task.status}[/bold]")
    if task.status == "completed":
        if task.results is not None or task.expectation_values is not None:
            from ops.cli_tasks import points_table

            console.print(points_table(task, observables or []))
        if task.result:
            console.print(histogram(task.result))
    elif task.status == "error":
        console.print(f"[red]{task.message}[/red]")


@app.command()
def submit(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="OpenQASM 3 file.")],
    shots: Annotated[
        int | None, typer.Option(help="Shots (the service's default if unset; 0: exact).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Simulator seed, for repeatable counts.")] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", help="An input's value, name=value; repeat.")
    ] = None,
    params_file: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="JSON: a point, or a list of points."),
    ] = None,
    observable: Annotated[
        list[str] | None,
        typer.Option("--observable", help='A Pauli string, or JSON {"XX": 0.5}; repeat.'),
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait and print the outcome.")] = False,
    timeout: Annotated[float, typer.Option(help="Longest wait in seconds.")] = 600,
) -> None:
    """Submit a program; prints its task id, and with --wait its outcome: counts as a
    histogram, points and expectation values as a table."""
    from ops.cli_tasks import observables_option, parameters_option
    from runtime.settings import Settings

    settings = Settings()
    parameters = parameters_option(param or [], params_file)
    observables = observables_option(observable or [])
    with _api(settings) as api:
        task_id = api.submit(
            file.read_text(), shots=shots, seed=seed, parameters=parameters, observables=observables
        )
        console.print(f"task {task_id} accepted")
        if not wait:
            return
        deadline = time.monotonic() + timeout
        with console.status("queued") as status:
            while not (task := api.get(task_id, wait=POLL_S)).done:
                if time.monotonic() > deadline:
                    console.print(f"[yellow]still {task.state} after {timeout:g} s[/yellow]")
                    raise typer.Exit(2)
                status.update(task.state or "queued")
    _show(task, observables)
    if task.status != "completed":
        raise typer.Exit(1)


@app.command()
def status(task_id: str, json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show a task as the API answers it."""
    from runtime.settings import Settings

    with _api(Settings()) as api:
        task = api.get(task_id)
    if json:
        console.print_json(data=task.model_dump(mode="json", exclude_none=True))
    else:
        _show(task)


@topics_app.command("create")
def topics_create(
    partitions: Annotated[
        int | None, typer.Option(help="Partitions per topic (QC_TOPIC_PARTITIONS).")
    ] = None,
) -> None:
    """Create the topics with their settings; existing topics are left as they are."""
    from runtime.kafka_client import client_options
    from runtime.settings import Settings
    from runtime.topics import create_topics

    settings = Settings()
    created = asyncio.run(
        create_topics(
            settings.kafka_bootstrap_servers,
            settings.topics,
            partitions or settings.qc_topic_partitions,
            settings.qc_topic_replication,
            settings.qc_max_record_bytes,
            options=client_options(settings),
        )
    )
    for spec in settings.topics.specs():
        state = "created" if spec.name in created else "exists"
        console.print(f"{spec.name}: {state}")


def _noise(text: str) -> Noise:
    """A noise model as JSON, or a device snapshot by name."""
    from pydantic import ValidationError

    from programs.devices import catalog

    try:
        noise = Noise.model_validate_json(text) if text.lstrip().startswith("{") else None
    except ValidationError as exc:
        raise typer.BadParameter(f"not a noise model: {exc.errors()[0]['msg']}") from None
    if noise is None:
        noise = Noise(device=text)
    if noise.device is not None and noise.device not in catalog():
        raise typer.BadParameter(f"no device snapshot named '{noise.device}' (see GET /devices)")
    return noise


@app.command("replay")
def replay_command(
    start: Annotated[
        str, typer.Option("--from", help="ISO 8601 time (UTC if no zone) or offset, included.")
    ],
    stop: Annotated[
        str | None, typer.Option("--to", help="ISO 8601 time or offset, excluded; default: now.")
    ] = None,
    method: Annotated[
        Method | None, typer.Option(help="Run every task with this simulation method.")
    ] = None,
    noise: Annotated[
        str | None,
        typer.Option(
            help="Run every task with this noise: a device snapshot's name (fake_sherbrooke) "
            'or a model as JSON ({"depolarizing": {"one_qubit": 0.001, "two_qubit": 0.01}, '
            '"readout": 0.02}).'
        ),
    ] = None,
    shots: Annotated[
        int | None, typer.Option(min=1, help="Run every task with these shots.")
    ] = None,
) -> None:
    """Run again the circuits on qc.submitted in a range; their new results replace the old.
    With --method, --noise or --shots, under that configuration (each record says so)."""
    from ops.log import reader, writer
    from ops.replay import Overrides, parse_position, replay
    from runtime.kafka_client import client_options
    from runtime.settings import Settings

    try:
        first, end = parse_position(start), parse_position(stop) if stop else None
    except ValueError as exc:
        raise typer.BadParameter(f"{exc}: give an ISO 8601 time or an offset") from exc
    overrides = Overrides(method=method, noise=_noise(noise) if noise else None, shots=shots)
    settings = Settings()
    topic = settings.topics.submitted
    options = client_options(settings)

    async def run():
        async with reader(settings.kafka_bootstrap_servers, [topic], options=options) as consumer:
            async with writer(
                settings.kafka_bootstrap_servers,
                options=options,
                compression=settings.qc_compression.producer_option,
            ) as producer:
                with console.status("replaying") as shown:
                    return await replay(
                        consumer,
                        producer,
                        topic,
                        first,
                        end,
                        progress=lambda n: shown.update(f"replaying: {n} republished"),
                        overrides=overrides,
                    )

    done = asyncio.run(run())
    table = Table("partition", "from offset", "to offset (excluded)", title=topic)
    for partition, (first, end) in sorted(done.ranges.items()):
        table.add_row(str(partition), str(first), str(end))
    console.print(table)
    console.print(
        f"{len(done.republished)} task(s) republished as generation {done.generation}"
        f" ({done.skipped} record(s) skipped)"
    )


@app.command("rebuild-view")
def rebuild_view_command() -> None:
    """Rebuild the Redis view from the whole log beside the live one, then switch to it."""
    from ops.log import reader
    from ops.rebuild import rebuild_view
    from runtime.kafka_client import client_options
    from runtime.redis_client import redis_client
    from runtime.settings import Settings
    from runtime.view import RebuildInProgress, TaskView

    settings = Settings()
    topics = settings.topics

    async def run():
        redis = redis_client(settings)
        view = TaskView(redis, settings.redis_prefix, settings.redis_result_ttl)
        bootstrap, sources = settings.kafka_bootstrap_servers, topics.view_sources()
        try:
            async with reader(bootstrap, sources, options=client_options(settings)) as consumer:
                with Progress(console=console, transient=True) as progress:
                    bar = progress.add_task("reading the log", total=None)
                    return await rebuild_view(
                        consumer,
                        view,
                        topics,
                        progress=lambda n, total: progress.update(bar, completed=n, total=total),
                    )
        finally:
            await redis.aclose()

    try:
        done = asyncio.run(run())
    except RebuildInProgress as exc:
        console.print(f"[red]not rebuilt[/red]: {exc}")
        raise typer.Exit(1) from exc
    console.print(
        f"view {done.view} is active: {done.records} records read; "
        f"{done.replaced} replaced ({done.deleted_keys} keys deleted)"
    )


def main() -> None:
    app()
