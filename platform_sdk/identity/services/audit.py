"""Reading the audit log: filters and pagination, for admins.

The log is written by every service through :func:`platform_sdk.core.audit.record`; reading it
needs ``admin:config`` globally (it spans every project and user). Rows come newest first.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_sdk.core.access import Actor, Perm
from platform_sdk.core.audit import AuditLog
from platform_sdk.core.pagination import Page, PageParams, paginate
from platform_sdk.errors import NotFound, ValidationFailed
from platform_sdk.identity import rbac
from platform_sdk.identity.schemas import AuditOut
from platform_sdk.projects.access import find_project

__all__ = ["list_audit"]


def list_audit(
    db: Session,
    *,
    actor: Actor,
    page: PageParams,
    user: str | None = None,
    action: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    project: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Page[AuditOut]:
    """Audit rows matching every given filter, newest first.

    ``action`` matches exactly, or as a prefix when it ends with ``.`` or ``*``
    (``secret.`` → every secret action).
    """
    rbac.require(db, actor, Perm.ADMIN_CONFIG)
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise ValidationFailed(f"{name}: give a timezone (e.g. 2026-01-02T03:04:05Z)")
    stmt = select(AuditLog)
    if user is not None:
        stmt = stmt.where(AuditLog.actor_name == user)
    if action:
        if action.endswith(("*", ".")):
            prefix = action.rstrip("*")
            stmt = stmt.where(AuditLog.action.startswith(prefix, autoescape=True))
        else:
            stmt = stmt.where(AuditLog.action == action)
    if target_type is not None:
        stmt = stmt.where(AuditLog.target_type == target_type)
    if target_id is not None:
        stmt = stmt.where(AuditLog.target_id == target_id)
    if project is not None:
        try:
            project_id: uuid.UUID | None = uuid.UUID(project)
        except ValueError:
            found = find_project(db, project)
            if found is None:
                raise NotFound(f"project {project} not found") from None
            project_id = found.id
        stmt = stmt.where(AuditLog.project_id == project_id)
    if since is not None:
        stmt = stmt.where(AuditLog.at >= since)
    if until is not None:
        stmt = stmt.where(AuditLog.at < until)
    stmt = stmt.order_by(AuditLog.at.desc(), AuditLog.id.desc())
    return paginate(db, stmt, page, AuditOut.model_validate)
