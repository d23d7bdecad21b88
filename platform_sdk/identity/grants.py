"""What the role, binding and delegation services share: lookups, the escalation rule, views.

These helpers take no ``actor`` and decide nothing about authorization on their own, so they
live outside ``identity/services`` (whose public functions must each take an actor): the
services call them after, or as part of, their own checks.

- :func:`role_by_name` and :func:`user_by_name` find the rows a request names; unknown names
  are ``NotFound`` (roles and user names are visible to every signed-in actor).
- :func:`ensure_no_escalation` is the one privilege-escalation rule: an actor may hand out (bind,
  unbind, or add to a role) only permissions it holds itself in that scope, after its token's
  narrowing. Global scope compares with the actor's global permissions, a project scope with
  its permissions in that project.
- :func:`role_out`, :func:`binding_out` and :func:`delegation_out` turn rows into the one schema
  per resource of :mod:`platform_sdk.identity.schemas`. :class:`PermissionOut` is the catalogue
  entry, the only schema that module lacks.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_sdk.core.access import Actor
from platform_sdk.core.types import utcnow
from platform_sdk.errors import NotFound, PermissionDenied
from platform_sdk.identity import rbac
from platform_sdk.identity.models import Delegation, Role, RolePermission, User, UserRole
from platform_sdk.identity.schemas import BindingOut, DelegationOut, RoleOut
from platform_sdk.projects.access import project_label
from platform_sdk.projects.models import Project

__all__ = [
    "PermissionOut",
    "binding_out",
    "delegation_active",
    "delegation_out",
    "ensure_no_escalation",
    "role_by_name",
    "role_out",
    "role_permissions",
    "user_by_name",
    "username_of",
]


class PermissionOut(BaseModel):
    """One entry of the permission catalogue."""

    model_config = ConfigDict(from_attributes=True)

    name: str
    description: str


def role_by_name(db: Session, name: str) -> Role:
    role = db.scalar(select(Role).where(Role.name == name))
    if role is None:
        raise NotFound(f"role {name!r} not found")
    return role


def user_by_name(db: Session, username: str, *, active: bool = False) -> User:
    """The user named ``username`` (only an active one when ``active``), else ``NotFound``."""
    user = db.scalar(select(User).where(User.username == username))
    if user is None or (active and not user.is_active):
        raise NotFound(f"{'active ' if active else ''}user {username!r} not found")
    return user


def username_of(db: Session, user_id: uuid.UUID | None) -> str | None:
    if user_id is None:
        return None
    return db.scalar(select(User.username).where(User.id == user_id))


def role_permissions(db: Session, role_id: uuid.UUID) -> set[str]:
    return set(
        db.scalars(select(RolePermission.permission).where(RolePermission.role_id == role_id))
    )


def ensure_no_escalation(
    db: Session, actor: Actor, perms: set[str], project_id: uuid.UUID | None, what: str
) -> None:
    """``PermissionDenied`` unless the actor holds every one of ``perms`` in that scope."""
    missing = sorted(perms - rbac.effective_permissions(db, actor, project_id))
    if missing:
        where = "globally" if project_id is None else "in this project"
        raise PermissionDenied(
            f"{actor.username} cannot {what}: it carries {', '.join(missing)}, "
            f"which {actor.username} does not hold {where}",
            details={"missing": missing},
        )


def _label(db: Session, project_id: uuid.UUID | None) -> str | None:
    if project_id is None:
        return None
    project = db.get(Project, project_id)
    return project_label(db, project) if project is not None else str(project_id)


def role_out(db: Session, role: Role) -> RoleOut:
    return RoleOut(
        id=role.id,
        name=role.name,
        description=role.description,
        is_system=role.is_system,
        permissions=sorted(role_permissions(db, role.id)),
    )


def binding_out(db: Session, binding: UserRole) -> BindingOut:
    role = db.get(Role, binding.role_id)
    return BindingOut(
        id=binding.id,
        user=username_of(db, binding.user_id) or "?",
        role=role.name if role is not None else "?",
        project_id=binding.project_id,
        project=_label(db, binding.project_id),
        granted_by=username_of(db, binding.granted_by_id),
        created_at=binding.created_at,
    )


def delegation_active(db: Session, delegation: Delegation, now: datetime | None = None) -> bool:
    """Works now: not revoked, not expired, and its grantor still active (as RBAC resolves it)."""
    now = now or utcnow()
    if delegation.revoked_at is not None:
        return False
    if delegation.expires_at is not None and delegation.expires_at <= now:
        return False
    return bool(db.scalar(select(User.is_active).where(User.id == delegation.grantor_id)))


def delegation_out(db: Session, delegation: Delegation) -> DelegationOut:
    return DelegationOut(
        id=delegation.id,
        grantor=username_of(db, delegation.grantor_id) or "?",
        grantee=username_of(db, delegation.grantee_id) or "?",
        permission=delegation.permission,
        project_id=delegation.project_id,
        project=_label(db, delegation.project_id),
        reason=delegation.reason,
        expires_at=delegation.expires_at,
        revoked_at=delegation.revoked_at,
        created_at=delegation.created_at,
        active=delegation_active(db, delegation),
    )
