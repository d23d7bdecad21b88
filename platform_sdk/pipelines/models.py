"""Tables of pipeline runs, their steps and artifacts.

A run (``pipelines``) is numbered per project from ``projects.next_pipeline_number`` and keeps
the parsed ``.platform.yaml`` it was started with in ``definition``. Steps form a DAG through
``depends_on`` (names of steps of the same run).

Workers claim steps: ``UPDATE pipeline_steps SET status='running', claimed_by=…, claimed_at=…
WHERE id=… AND status='pending'`` (one row updated means the claim won) and then keep
``heartbeat_at`` fresh. A step whose heartbeat is stale, or which failed with retries left,
goes back to ``pending`` with ``attempt`` incremented — that is the only backward move.

Artifacts are unique by name per step; artifacts of the run itself (``step_id`` NULL) are
unique by name per run: partial unique indexes ``uq_artifacts_step_name`` and
``uq_artifacts_run_name``.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from platform_sdk.core.db import Base, IdMixin, TimestampMixin, partial_unique
from platform_sdk.core.statemachine import StatusEnum
from platform_sdk.core.types import status_enum, utcnow

__all__ = ["Artifact", "Pipeline", "PipelineStep", "RunStatus", "StepStatus", "TriggerKind"]


class TriggerKind(enum.StrEnum):
    """What started a run."""

    PUSH = "push"
    TAG = "tag"
    MERGE_REQUEST = "merge_request"
    MANUAL = "manual"
    SCHEDULE = "schedule"


class RunStatus(StatusEnum):
    """A run: success, failure and cancelled are terminal (a re-run is a new run)."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    FAILURE = "failure"
    CANCELLED = "cancelled"


RunStatus.allow(
    {
        RunStatus.PENDING: {RunStatus.RUNNING, RunStatus.CANCELLED, RunStatus.FAILURE},
        RunStatus.RUNNING: {RunStatus.SUCCESS, RunStatus.FAILURE, RunStatus.CANCELLED},
    }
)


class StepStatus(StatusEnum):
    """A step: running may fall back to pending (a retry); the others end the step."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    FAILURE = "failure"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"


StepStatus.allow(
    {
        StepStatus.PENDING: {StepStatus.RUNNING, StepStatus.SKIPPED, StepStatus.CANCELLED},
        StepStatus.RUNNING: {
            StepStatus.SUCCESS,
            StepStatus.FAILURE,
            StepStatus.CANCELLED,
            StepStatus.PENDING,
        },
    }
)


class Pipeline(IdMixin, TimestampMixin, Base):
    """One run of a project's pipeline at ``commit_sha`` of ``ref``."""

    __tablename__ = "pipelines"
    __table_args__ = (
        UniqueConstraint("project_id", "number"),
        Index("ix_pipelines_status", "status"),
        CheckConstraint("number >= 1", name="number_positive"),
        CheckConstraint("timeout_seconds > 0", name="timeout_positive"),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    number: Mapped[int]
    trigger: Mapped[TriggerKind] = mapped_column(status_enum(TriggerKind))
    ref: Mapped[str] = mapped_column(String(255))
    commit_sha: Mapped[str] = mapped_column(String(64))
    status: Mapped[RunStatus] = mapped_column(status_enum(RunStatus), default=RunStatus.PENDING)
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    definition: Mapped[dict[str, Any]] = mapped_column(default=dict)
    triggered_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    merge_request_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("merge_requests.id", ondelete="SET NULL"), index=True
    )
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    timeout_seconds: Mapped[int] = mapped_column(default=3600)
    error: Mapped[str | None] = mapped_column(Text)


class PipelineStep(IdMixin, TimestampMixin, Base):
    """One step of a run: a container image (ignored by the local runtime) and commands.

    ``attempt`` counts the attempts started (0 before the first); the step may be tried
    ``1 + max_retries`` times. ``timeout_seconds`` NULL means the run's timeout applies.
    ``log_key`` is the object-store key of the step's log once it is flushed.
    """

    __tablename__ = "pipeline_steps"
    __table_args__ = (
        UniqueConstraint("pipeline_id", "name"),
        Index("ix_pipeline_steps_status_heartbeat", "status", "heartbeat_at"),
        CheckConstraint("attempt >= 0 AND max_retries >= 0", name="attempts_nonnegative"),
    )

    pipeline_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("pipelines.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    image: Mapped[str | None] = mapped_column(String(512))
    commands: Mapped[list[str]] = mapped_column(default=list)
    depends_on: Mapped[list[str]] = mapped_column(default=list)
    env: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[StepStatus] = mapped_column(status_enum(StepStatus), default=StepStatus.PENDING)
    attempt: Mapped[int] = mapped_column(default=0)
    max_retries: Mapped[int] = mapped_column(default=0)
    allow_failure: Mapped[bool] = mapped_column(default=False)
    timeout_seconds: Mapped[int | None]
    exit_code: Mapped[int | None]
    claimed_by: Mapped[str | None] = mapped_column(String(255))
    claimed_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    log_key: Mapped[str | None] = mapped_column(String(1024))


class Artifact(IdMixin, Base):
    """A file a run kept, stored in the object store under ``blob_key``."""

    __tablename__ = "artifacts"
    __table_args__ = (
        partial_unique("uq_artifacts_step_name", "step_id", "name", where="step_id IS NOT NULL"),
        partial_unique("uq_artifacts_run_name", "pipeline_id", "name", where="step_id IS NULL"),
        CheckConstraint("size_bytes >= 0", name="size_nonnegative"),
    )

    pipeline_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("pipelines.id", ondelete="CASCADE"), index=True
    )
    step_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("pipeline_steps.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    blob_key: Mapped[str] = mapped_column(String(1024))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(255), default="application/octet-stream")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
