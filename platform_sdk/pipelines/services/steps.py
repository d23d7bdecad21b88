"""Step logs and run artifacts, read with ``project:read`` on the run's project.

A step's log is read from the object store (:mod:`platform_sdk.pipelines.logs`) at a byte
offset, so followers resume where they stopped. Artifacts are listed until they expire
(``PLATFORM_ARTIFACT_TTL_DAYS`` after their upload); the worker deletes expired ones.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_sdk.core.access import Actor
from platform_sdk.core.runtime import runtime_of
from platform_sdk.core.types import utcnow
from platform_sdk.errors import NotFound
from platform_sdk.pipelines.access import access_run
from platform_sdk.pipelines.logs import read_log
from platform_sdk.pipelines.models import Artifact, Pipeline, PipelineStep
from platform_sdk.pipelines.schemas import ArtifactOut, LogChunk

__all__ = ["list_artifacts", "open_artifact", "step_log"]


def _artifact_ttl(db: Session) -> timedelta:
    return timedelta(days=runtime_of(db).settings.artifact_ttl_days)


def _step(db: Session, run: Pipeline, name: str) -> PipelineStep:
    step = db.scalar(
        select(PipelineStep).where(PipelineStep.pipeline_id == run.id, PipelineStep.name == name)
    )
    if step is None:
        raise NotFound(f"pipeline #{run.number} has no step {name!r}")
    return step


def step_log(
    db: Session,
    *,
    actor: Actor,
    project: str | uuid.UUID,
    number: int,
    step: str,
    offset: int = 0,
    attempt: int | None = None,
) -> LogChunk:
    """The step's log from byte ``offset`` (latest attempt unless ``attempt`` is given)."""
    _, run, _ = access_run(db, actor, project, number)
    row = _step(db, run, step)
    which = attempt if attempt is not None else row.attempt
    if which < 1:  # not started yet
        return LogChunk(step=row.name, attempt=0, offset=0, text="", done=row.status.is_terminal)
    data, final = read_log(runtime_of(db).blobs, run.id, row.id, which, max(0, offset))
    ended = row.status.is_terminal or which < row.attempt
    return LogChunk(
        step=row.name,
        attempt=which,
        offset=max(0, offset),
        text=data.decode("utf-8", errors="replace"),
        done=final and ended,
    )


def _out(db: Session, a: Artifact, names: dict[uuid.UUID, str]) -> ArtifactOut:
    return ArtifactOut(
        id=a.id,
        name=a.name,
        step=names.get(a.step_id) if a.step_id else None,
        size_bytes=a.size_bytes,
        sha256=a.sha256,
        content_type=a.content_type,
        created_at=a.created_at,
        expires_at=a.created_at + _artifact_ttl(db),
    )


def list_artifacts(
    db: Session, *, actor: Actor, project: str | uuid.UUID, number: int
) -> list[ArtifactOut]:
    """The run's unexpired artifacts, by step then name."""
    _, run, _ = access_run(db, actor, project, number)
    names = dict(
        db.execute(
            select(PipelineStep.id, PipelineStep.name).where(PipelineStep.pipeline_id == run.id)
        ).all()
    )
    rows = db.scalars(
        select(Artifact)
        .where(Artifact.pipeline_id == run.id, Artifact.created_at > utcnow() - _artifact_ttl(db))
        .order_by(Artifact.created_at, Artifact.name)
    ).all()
    return sorted((_out(db, a, names) for a in rows), key=lambda o: (o.step or "", o.name))


def open_artifact(
    db: Session,
    *,
    actor: Actor,
    project: str | uuid.UUID,
    number: int,
    name: str,
    step: str | None = None,
) -> tuple[ArtifactOut, BinaryIO]:
    """The artifact ``name`` (of ``step`` when names repeat across steps) and a stream of it."""
    matches = [
        a
        for a in list_artifacts(db, actor=actor, project=project, number=number)
        if a.name == name and (step is None or a.step == step)
    ]
    if not matches:
        raise NotFound(f"pipeline #{number} has no artifact {name!r}")
    if len(matches) > 1:
        raise NotFound(
            f"artifact {name!r} exists in steps {', '.join(m.step or '-' for m in matches)}: "
            "name the step"
        )
    row = db.get(Artifact, matches[0].id)
    assert row is not None
    return matches[0], runtime_of(db).blobs.open(row.blob_key)
