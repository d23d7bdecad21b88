"""Pydantic schemas of pipeline runs, steps and artifacts (services, HTTP bodies, SDK parsing).

A run is addressed as ``{owner}/{name}`` plus its per-project ``number``; steps by name within
their run. ``RunOut.steps`` carries the steps (in DAG order: the order of the definition after
matrix expansion) so one read shows a whole run, as the dashboards and ``platform pipelines
show`` need.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from platform_sdk.pipelines.models import RunStatus, StepStatus, TriggerKind

__all__ = [
    "ArtifactOut",
    "LogChunk",
    "RunOut",
    "RunStatus",
    "StepOut",
    "StepStatus",
    "TriggerIn",
    "TriggerKind",
]

ParamName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]


class StepOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    image: str | None
    commands: list[str]
    depends_on: list[str]
    status: StepStatus
    attempt: int
    max_retries: int
    allow_failure: bool
    timeout_seconds: int | None
    exit_code: int | None
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class RunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    project: str
    project_id: uuid.UUID
    number: int
    trigger: TriggerKind
    ref: str
    commit_sha: str
    status: RunStatus
    parameters: dict[str, str]
    triggered_by: str | None
    error: str | None
    timeout_seconds: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    steps: list[StepOut] = Field(default_factory=list)

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def finished(self) -> bool:
        return self.status.is_terminal


class ArtifactOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    step: str | None
    size_bytes: int
    sha256: str
    content_type: str
    created_at: datetime
    expires_at: datetime | None


class TriggerIn(BaseModel):
    """A manual run: the ref to build and the parameters (over the definition's defaults)."""

    model_config = ConfigDict(extra="forbid")

    ref: str | None = Field(None, min_length=1, max_length=255)
    parameters: dict[ParamName, str] = Field(default_factory=dict)

    @field_validator("parameters")
    @classmethod
    def _bounded(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > 50:
            raise ValueError("at most 50 parameters")
        for key, item in value.items():
            if len(item) > 4096:
                raise ValueError(f"parameter {key} is longer than 4096 characters")
            if "\x00" in item:
                raise ValueError(f"parameter {key} contains a NUL character")
        return value


class LogChunk(BaseModel):
    """Part of a step's log: ``text`` from byte ``offset``; ``done`` once the step ended and
    nothing more will come."""

    step: str
    attempt: int
    offset: int
    text: str
    done: bool
