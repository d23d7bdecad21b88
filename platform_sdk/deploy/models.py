"""Tables of the continuous deployer (the role Argo CD plays elsewhere).

An ops repository holds rendered or kustomize manifests; each deployment is one application
in one environment, read from ``path`` inside that repository (by default
``{ops_repo.path}/{name}/{environment}``). The deployer compares ``target_revision`` with
what is live and records ``sync_status`` and ``health`` as *observations*: they may change
from any value to any other, so they are plain enums, not status machines. Every sync,
promotion or rollback is a row of ``deployment_history``; a rollback points at the entry it
undoes through ``rolled_back_from_id``.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from platform_sdk.core.db import Base, IdMixin, TimestampMixin
from platform_sdk.core.statemachine import StatusEnum
from platform_sdk.core.types import status_enum, utcnow

__all__ = [
    "Deployment",
    "DeploymentHistory",
    "DeploymentStatus",
    "HealthStatus",
    "OpsRepo",
    "SyncStatus",
]


class SyncStatus(enum.StrEnum):
    """Whether the live objects match the target revision (observed, not a state machine)."""

    SYNCED = "synced"
    OUT_OF_SYNC = "out_of_sync"
    UNKNOWN = "unknown"


class HealthStatus(enum.StrEnum):
    """How the live objects are doing (observed, not a state machine)."""

    HEALTHY = "healthy"
    PROGRESSING = "progressing"
    DEGRADED = "degraded"
    MISSING = "missing"
    UNKNOWN = "unknown"


class DeploymentStatus(StatusEnum):
    """One rollout: succeeded, failed and cancelled are terminal."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


DeploymentStatus.allow(
    {
        DeploymentStatus.PENDING: {DeploymentStatus.RUNNING, DeploymentStatus.CANCELLED},
        DeploymentStatus.RUNNING: {
            DeploymentStatus.SUCCEEDED,
            DeploymentStatus.FAILED,
            DeploymentStatus.CANCELLED,
        },
    }
)


class OpsRepo(IdMixin, TimestampMixin, Base):
    """A git repository of manifests the deployer polls (it may be a platform project)."""

    __tablename__ = "ops_repos"
    __table_args__ = (CheckConstraint("sync_interval_seconds > 0", name="sync_interval_positive"),)

    project_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("projects.id", ondelete="SET NULL"), index=True
    )
    name: Mapped[str] = mapped_column(String(100), unique=True)
    repo_url: Mapped[str] = mapped_column(String(2048))
    branch: Mapped[str] = mapped_column(String(255), default="main")
    path: Mapped[str] = mapped_column(String(1024), default="")
    sync_interval_seconds: Mapped[int] = mapped_column(default=180)
    last_synced_sha: Mapped[str | None] = mapped_column(String(64))
    last_synced_at: Mapped[datetime | None]
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )


class Deployment(IdMixin, TimestampMixin, Base):
    """An application in an environment, kept in line with its ops repository."""

    __tablename__ = "deployments"
    __table_args__ = (UniqueConstraint("ops_repo_id", "name", "environment"),)

    ops_repo_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ops_repos.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    environment: Mapped[str] = mapped_column(String(64))
    namespace: Mapped[str] = mapped_column(String(253), default="default")
    path: Mapped[str | None] = mapped_column(String(1024))
    target_revision: Mapped[str] = mapped_column(String(255), default="HEAD")
    live_revision: Mapped[str | None] = mapped_column(String(64))
    sync_status: Mapped[SyncStatus] = mapped_column(
        status_enum(SyncStatus), default=SyncStatus.UNKNOWN
    )
    health: Mapped[HealthStatus] = mapped_column(
        status_enum(HealthStatus), default=HealthStatus.UNKNOWN
    )
    auto_sync: Mapped[bool] = mapped_column(default=False)
    last_synced_at: Mapped[datetime | None]


class DeploymentHistory(IdMixin, Base):
    """One rollout of a deployment to ``revision``: who, why, and how it ended.

    ``manifest_digest`` is ``sha256:<hex>`` of the applied manifests, so two rollouts of the
    same objects are recognisable.
    """

    __tablename__ = "deployment_history"

    deployment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("deployments.id", ondelete="CASCADE"), index=True
    )
    revision: Mapped[str] = mapped_column(String(64))
    status: Mapped[DeploymentStatus] = mapped_column(
        status_enum(DeploymentStatus), default=DeploymentStatus.PENDING
    )
    initiated_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    reason: Mapped[str] = mapped_column(Text, default="")
    message: Mapped[str | None] = mapped_column(Text)
    manifest_digest: Mapped[str | None] = mapped_column(String(80))
    rolled_back_from_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("deployment_history.id", ondelete="SET NULL"), index=True
    )
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
