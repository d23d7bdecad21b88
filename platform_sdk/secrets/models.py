"""The table of the secrets engine.

Every write of a secret is a new row with ``version`` one higher; values are stored only as
``ciphertext`` sealed under the master key named by ``key_id``, so master keys can rotate
(rows are re-encrypted lazily, or by a rotation job, and ``key_id`` says which key opens each).
A secret is global when ``project_id`` is NULL. ``(name, version)`` is unique among global
rows and ``(project_id, name, version)`` among project rows: partial unique indexes
``uq_secrets_global_version`` and ``uq_secrets_project_version``. The latest live version is
found through ``ix_secrets_lookup`` (``project_id, name, version``)::

    SELECT … WHERE project_id = :p AND name = :n AND deleted_at IS NULL
    ORDER BY version DESC LIMIT 1          -- ``project_id IS NULL`` for a global secret

Deleting a secret sets ``deleted_at`` on all of its versions.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from platform_sdk.core.db import Base, IdMixin, partial_unique
from platform_sdk.core.types import status_enum, utcnow

__all__ = ["Secret", "SecretScope"]


class SecretScope(enum.StrEnum):
    """Which runtimes may resolve a secret."""

    PIPELINE = "pipeline"
    AGENT = "agent"
    DEPLOY = "deploy"
    ALL = "all"


class Secret(IdMixin, Base):
    """One version of a named secret, encrypted."""

    __tablename__ = "secrets"
    __table_args__ = (
        partial_unique("uq_secrets_global_version", "name", "version", where="project_id IS NULL"),
        partial_unique(
            "uq_secrets_project_version",
            "project_id",
            "name",
            "version",
            where="project_id IS NOT NULL",
        ),
        Index("ix_secrets_lookup", "project_id", "name", "version"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    project_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(255))
    scope: Mapped[SecretScope] = mapped_column(status_enum(SecretScope), default=SecretScope.ALL)
    version: Mapped[int] = mapped_column(default=1)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(String(64))
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None]
