"""What routes receive: the clients opened once in the app's lifespan.

The providers are ``async def`` on purpose: FastAPI runs a plain ``def`` dependency in its
thread pool, a thread hop per dependency per request for what is an attribute read."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.intake import Backlog
from api.submissions import SubmissionLog
from programs.workers import ProgramReader
from runtime.settings import Settings
from runtime.view import TaskView


async def _settings(request: Request) -> Settings:
    return request.app.state.settings


async def _submissions(request: Request) -> SubmissionLog:
    return request.app.state.submissions


async def _view(request: Request) -> TaskView:
    return request.app.state.view


async def _reader(request: Request) -> ProgramReader:
    return request.app.state.reader


async def _backlog(request: Request) -> Backlog:
    return request.app.state.backlog


SettingsDep = Annotated[Settings, Depends(_settings)]
SubmissionsDep = Annotated[SubmissionLog, Depends(_submissions)]
ViewDep = Annotated[TaskView, Depends(_view)]
ReaderDep = Annotated[ProgramReader, Depends(_reader)]
BacklogDep = Annotated[Backlog, Depends(_backlog)]
