"""What ``qcexec submit`` reads from its options (parameter values, observables) and how it shows
points and expectation values: a table, one row per point."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from qcexec_client import Task
from rich.table import Table


def _label(observable: str | dict[str, float]) -> str:
    if isinstance(observable, str):
        return observable
    return " + ".join(f"{coeff:g}·{pauli}" for pauli, coeff in observable.items())


def points_table(task: Task, observables: list[str | dict[str, float]]) -> Table:
    """One row per point: its parameter values, each observable's value ± standard error, and
    its most frequent outcomes when it has counts."""
    points = task.points
    names = sorted({name for point in points for name in point.parameters or {}})
    table = Table(title=f"task {task.task_id}")
    table.add_column("#", justify="right")
    for name in names:
        table.add_column(name, justify="right")
    width = max((len(point.expectation_values or []) for point in points), default=0)
    labels = [_label(o) for o in observables] or [f"observable {i}" for i in range(width)]
    for label in labels[:width]:
        table.add_column(f"⟨{label}⟩", justify="right")
    if any(point.counts for point in points):
        table.add_column("counts (most frequent)")
    for index, point in enumerate(points):
        row = [str(index), *(f"{(point.parameters or {}).get(name, 0):.6g}" for name in names)]
        values = zip(point.expectation_values or [], point.standard_errors or [], strict=False)
        row += [f"{ev:.6f} ± {se:.2g}" for ev, se in values]
        if point.counts:
            top = sorted(point.counts.items(), key=lambda item: -item[1])[:3]
            row.append(", ".join(f"{outcome}: {n}" for outcome, n in top))
        table.add_row(*row)
    return table


def parameters_option(params: list[str], params_file: Path | None) -> Any:
    """``--param name=value`` (one point) or ``--params-file`` (JSON: one object, or a list of
    objects, a sweep)."""
    if params and params_file:
        raise typer.BadParameter("give --param or --params-file, not both")
    if params_file:
        try:
            return json.loads(params_file.read_text())
        except ValueError as exc:
            raise typer.BadParameter(f"{params_file}: not JSON: {exc}") from exc
    point = {}
    for item in params:
        name, sep, value = item.partition("=")
        try:
            point[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise typer.BadParameter(f"--param {item!r}: expected name=number")
    return point or None


def observables_option(raw: list[str]) -> list[str | dict[str, float]] | None:
    """Each ``--observable``: a Pauli string (``ZZ``) or a JSON object (``{"XX": 0.5}``)."""
    out: list[str | dict[str, float]] = []
    for item in raw:
        text = item.strip()
        if text.startswith("{"):
            try:
                out.append({k: float(v) for k, v in json.loads(text).items()})
            except (ValueError, AttributeError) as exc:
                raise typer.BadParameter(f"--observable {item!r}: {exc}") from exc
        else:
            out.append(text)
    return out or None
