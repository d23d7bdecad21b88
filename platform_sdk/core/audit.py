"""The audit log: one row for every change any actor makes, written in the same transaction.

This module holds only the :class:`AuditLog` model for now. The ``record(db, actor, action,
target, **details)`` function that services call comes with the identity issue, which also
defines how an :class:`~platform_sdk.core.access.Actor` (with its token and delegation) maps
onto a row; it is deliberately not written here.

Rows outlive what they describe: ``actor_name`` keeps the username after the user is
deleted (``actor_id`` becomes NULL), and ``token_id``, ``project_id`` and ``target_id`` are
plain values, not foreign keys, so deleting a token, a project or the target keeps its id
in the log. ``actor_id`` NULL with ``actor_name`` ``"system"`` marks the platform's own
actions (schedulers, the deployer, retention jobs).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from platform_sdk.core.db import Base, IdMixin
from platform_sdk.core.types import utcnow

__all__ = ["AuditLog"]


class AuditLog(IdMixin, Base):
    """Who did what to which object, when, from where, and through which grant.

    ``action`` is ``capability.verb`` (``pipeline.cancel``, ``secret.update``);
    ``target_type``/``target_id`` name the object (``pipeline`` and its UUID as text);
    ``details`` holds what changed, never secret values.
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_target", "target_type", "target_id"),)

    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    actor_name: Mapped[str] = mapped_column(String(64))
    via_delegation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("delegations.id", ondelete="SET NULL"), index=True
    )
    token_id: Mapped[uuid.UUID | None]
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str] = mapped_column(String(64), default="")
    target_id: Mapped[str | None] = mapped_column(String(64))
    project_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    client_addr: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
