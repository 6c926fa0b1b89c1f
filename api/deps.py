"""What routes receive: the clients opened once in the app's lifespan."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.submissions import SubmissionLog
from qcexec.settings import Settings
from qcexec.view import TaskView


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _submissions(request: Request) -> SubmissionLog:
    return request.app.state.submissions


def _view(request: Request) -> TaskView:
    return request.app.state.view


SettingsDep = Annotated[Settings, Depends(_settings)]
SubmissionsDep = Annotated[SubmissionLog, Depends(_submissions)]
ViewDep = Annotated[TaskView, Depends(_view)]
