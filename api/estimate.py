"""``POST /tasks/estimate``: a dry run. The body of a submission is read and checked as a
submission is (:func:`api.intake.submission`: refused with the same answer), then priced for
every method (:mod:`programs.estimate`): whether it can run the task, the memory its state
takes, the run time on this machine. Nothing runs and nothing goes on the log."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import APIRouter

from api.auth import OwnerDep
from api.deps import BacklogDep, ReaderDep, SettingsDep
from api.errors import BacklogFull, Refused
from api.intake import submission
from api.models import Estimate, InvalidProgram, MethodEstimate, Problem, TaskRequest
from programs.devices import catalog
from programs.errors import ProgramError
from programs.estimate import Calibration, automatic_choice, calibration, state_bytes
from programs.weight import task_work
from programs.workers import ProgramReader
from runtime.settings import Settings
from schemas.events import Method, TaskSubmitted

router = APIRouter(tags=["tasks"])


@cache
def _calibration(path: Path | None) -> Calibration:
    return calibration(path)


def _qubits(task: TaskSubmitted) -> int:
    """The qubits simulated: a device snapshot's own, since the circuit is mapped onto it."""
    assert task.qubits is not None
    if task.noise is not None and task.noise.device is not None:
        return catalog()[task.noise.device].qubits
    return task.qubits


async def _priced(
    body: TaskRequest,
    method: Method,
    settings: Settings,
    reader: ProgramReader,
    owner: str | None,
    clifford: bool,
    asked: TaskSubmitted,
) -> MethodEstimate:
    """What ``method`` would need for the request, or why it cannot run it (``asked``: the
    request's own record, already read and checked for the method it asked)."""
    task = asked
    if method is not (asked.method or Method.AUTOMATIC):
        try:
            update = {"method": method}
            task = await submission(body.model_copy(update=update), settings, reader, owner)
        except ProgramError as exc:
            return MethodEstimate(method=method, runs=False, reason=str(exc))
        except Refused as exc:
            return MethodEstimate(method=method, runs=False, reason=exc.message)
    qubits, noise = _qubits(task), task.noise
    simulated = method
    if method is Method.AUTOMATIC:
        on_device = noise is not None and noise.device is not None
        simulated = automatic_choice(
            qubits,
            task.shots,
            noise is not None,
            clifford and not on_device,
            settings.qc_task_max_memory_mb,
        )
    model = _calibration(settings.api_estimate_calibration)
    return MethodEstimate(
        method=method,
        runs=True,
        simulates_as=simulated,
        memory_bytes=state_bytes(simulated, qubits),
        seconds=round(model.seconds(simulated, task_work(task)), 6),
    )


@router.post(
    "/tasks/estimate",
    operation_id="estimate_task",
    response_model=Estimate,
    responses={
        400: {"model": InvalidProgram, "description": "The program cannot be read."},
        401: {"model": Problem, "description": "API keys are on and none (or a wrong one) came."},
        413: {"model": Problem, "description": "The request body is too large."},
        422: {"description": "Wrong body shape, or a guardrail: refused as a submission is."},
    },
    summary="A dry run: what a submission would run, need and take",
    description="The body of `POST /tasks`, read and checked as a submission is (and refused "
    "with the same answer), then priced for every method: whether it can run it, the memory "
    "of its state as Aer counts it, and the run time from a model fitted on this machine by "
    "`make bench`. Nothing runs and nothing goes on the log.",
)
async def estimate_task(
    body: TaskRequest,
    settings: SettingsDep,
    reader: ReaderDep,
    owner: OwnerDep,
    backlog: BacklogDep,
) -> Estimate:
    asked = body.method or Method.AUTOMATIC
    task = await submission(body, settings, reader, owner)  # refused as a submission is
    assert task.qubits is not None and task.operations is not None and task.dialect is not None
    stabilizer = await _priced(body, Method.STABILIZER, settings, reader, owner, True, task)
    methods = [
        stabilizer
        if method is Method.STABILIZER
        else await _priced(body, method, settings, reader, owner, stabilizer.runs, task)
        for method in Method
    ]
    accepted, reason = True, None
    try:
        await backlog.check(owner, 1)
    except BacklogFull as exc:
        accepted = False
        reason = f"{exc.waiting} of your tasks are waiting; the bound is {exc.limit}"
    return Estimate(
        accepted=accepted,
        reason=reason,
        dialect=task.dialect.value,
        qubits=task.qubits,
        operations=task.operations,
        points=max(1, len(task.parameters or ())),
        shots=task.shots,
        method=next(m for m in methods if m.method is asked),
        methods=methods,
        calibration=_calibration(settings.api_estimate_calibration).machine,
    )
