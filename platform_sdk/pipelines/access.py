"""Finding a run as an actor may see it, and turning rows into :class:`RunOut`.

:func:`access_run` follows :func:`~platform_sdk.projects.access.access_project`: a run of a
project the actor cannot read is ``NotFound``, like a missing run.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_sdk.core.access import Actor, Perm
from platform_sdk.errors import NotFound
from platform_sdk.identity.grants import username_of
from platform_sdk.pipelines.models import Pipeline, PipelineStep
from platform_sdk.pipelines.schemas import RunOut, StepOut
from platform_sdk.projects.access import access_project, project_label
from platform_sdk.projects.models import Project

__all__ = ["access_run", "run_out"]


def run_out(db: Session, run: Pipeline, *, steps: bool = True, label: str | None = None) -> RunOut:
    if label is None:
        project = db.get(Project, run.project_id)
        assert project is not None
        label = project_label(db, project)
    step_rows: list[PipelineStep] = []
    if steps:
        step_rows = list(
            db.scalars(
                select(PipelineStep)
                .where(PipelineStep.pipeline_id == run.id)
                .order_by(PipelineStep.created_at, PipelineStep.id)
            )
        )
    return RunOut(
        id=run.id,
        project=label,
        project_id=run.project_id,
        number=run.number,
        trigger=run.trigger,
        ref=run.ref,
        commit_sha=run.commit_sha,
        status=run.status,
        parameters={str(k): str(v) for k, v in (run.parameters or {}).items()},
        triggered_by=username_of(db, run.triggered_by_id),
        error=run.error,
        timeout_seconds=run.timeout_seconds,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        steps=[StepOut.model_validate(s) for s in step_rows],
    )


def access_run(
    db: Session, actor: Actor, project: str | uuid.UUID, number: int, need: Perm = Perm.PROJECT_READ
) -> tuple[Project, Pipeline, uuid.UUID | None]:
    proj, via = access_project(db, actor, project, need=need)
    run = db.scalar(
        select(Pipeline).where(Pipeline.project_id == proj.id, Pipeline.number == number)
    )
    if run is None:
        raise NotFound(f"pipeline #{number} not found in {project_label(db, proj)}")
    return proj, run, via
