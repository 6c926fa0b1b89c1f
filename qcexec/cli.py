"""The ``qcexec`` command: operate the service from a terminal."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console

from qcexec.settings import Settings
from qcexec.topics import create_topics

app = typer.Typer(help="qcexec: run OpenQASM 3 programs through a Kafka-compatible log.")
topics_app = typer.Typer(help="The service's topics.")
app.add_typer(topics_app, name="topics")
console = Console()


@topics_app.command("create")
def topics_create(
    partitions: int | None = typer.Option(None, help="Partitions per topic (QC_TOPIC_PARTITIONS)."),
) -> None:
    """Create the topics with their settings; existing topics are left as they are."""
    settings = Settings()
    created = asyncio.run(
        create_topics(
            settings.kafka_bootstrap_servers,
            settings.topics,
            partitions or settings.qc_topic_partitions,
        )
    )
    for spec in settings.topics.specs():
        state = "created" if spec.name in created else "exists"
        console.print(f"{spec.name}: {state}")


def main() -> None:
    app()
