"""The audit log: one row for every change any actor makes, written in the same transaction.

Services call :func:`record` next to the change they make, in the same session, so the row
commits or rolls back with it. The actor's token and client address come from the
:class:`~platform_sdk.core.access.Actor`; ``via`` names the delegation a permission came from
when it did not come from the actor's own roles.

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
from sqlalchemy.orm import Mapped, Session, mapped_column

from platform_sdk.core.access import Actor
from platform_sdk.core.db import Base, IdMixin
from platform_sdk.core.types import utcnow

__all__ = ["SECRET_KEYS", "AuditLog", "record"]

SECRET_KEYS = frozenset({"password", "token", "secret", "value", "ciphertext", "key"})
"""Detail keys whose values are never written to the log (a guard, not the only defence)."""


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


def _scrub(details: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in details.items():
        if key.lower() in SECRET_KEYS:
            out[key] = "[redacted]"
        elif isinstance(value, dict):
            out[key] = _scrub(value)
        else:
            out[key] = value
    return out


def record(
    db: Session,
    actor: Actor | None,
    action: str,
    *,
    target_type: str = "",
    target_id: object = None,
    project_id: uuid.UUID | None = None,
    via: uuid.UUID | None = None,
    details: dict[str, Any] | None = None,
) -> AuditLog:
    """Add an audit row to ``db``'s transaction (``actor`` None means the platform itself)."""
    row = AuditLog(
        actor_id=actor.user_id if actor else None,
        actor_name=actor.username if actor else "system",
        token_id=actor.token_id if actor else None,
        client_addr=actor.client_addr if actor else None,
        via_delegation_id=via,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        project_id=project_id,
        details=_scrub(details or {}),
    )
    db.add(row)
    return row
