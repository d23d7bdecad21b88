"""Roles: the permission catalogue, the system roles (read-only) and custom roles.

Reading the catalogue and the roles needs nothing beyond being signed in: a role is a name for a
set of permissions, and people must be able to see what they are asked to grant or hold.

Changing roles needs ``admin:roles`` globally. System roles (``admin``, ``developer``, ``ops``,
``agent``, ``viewer``) are owned by ``platform init`` — it re-syncs them on upgrade — so any
change to them is a ``Conflict``. Adding a permission to a role, or deleting a role, is subject
to the escalation rule of bindings (:func:`~platform_sdk.identity.grants.ensure_no_escalation`):
otherwise an actor holding only ``admin:roles`` could bind itself to a custom role and then
grow that role to everything.

Deleting a role that is still bound is refused (``Conflict``, naming how many bindings) unless
``force`` removes the bindings with it; the audit row lists whose bindings went.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from platform_sdk.core import audit
from platform_sdk.core.access import Actor, Perm
from platform_sdk.core.pagination import Page, PageParams, paginate
from platform_sdk.errors import AlreadyExists, Conflict
from platform_sdk.identity import rbac
from platform_sdk.identity.grants import (
    PermissionOut,
    ensure_no_escalation,
    role_by_name,
    role_out,
    role_permissions,
    username_of,
)
from platform_sdk.identity.models import Permission, Role, RolePermission, UserRole
from platform_sdk.identity.schemas import RoleCreate, RoleOut, RoleUpdate

__all__ = [
    "create_role",
    "delete_role",
    "get_role",
    "list_permissions",
    "list_roles",
    "update_role",
]


def list_permissions(db: Session, *, actor: Actor) -> list[PermissionOut]:
    """The permission catalogue with descriptions, by name."""
    rows = db.scalars(select(Permission).order_by(Permission.name))
    return [PermissionOut.model_validate(p) for p in rows]


def list_roles(db: Session, *, actor: Actor, page: PageParams) -> Page[RoleOut]:
    """Every role, system roles first, then by name."""
    stmt = select(Role).order_by(Role.is_system.desc(), Role.name)
    return paginate(db, stmt, page, lambda r: role_out(db, r))


def get_role(db: Session, *, actor: Actor, name: str) -> RoleOut:
    return role_out(db, role_by_name(db, name))


def _mutable(db: Session, name: str) -> Role:
    role = role_by_name(db, name)
    if role.is_system:
        raise Conflict(
            f"role {name!r} is a system role and cannot be changed; create a custom role",
            details={"role": name},
        )
    return role


def create_role(db: Session, *, actor: Actor, body: RoleCreate) -> RoleOut:
    """A custom role with the given permissions (all of which the actor must hold globally)."""
    via = rbac.require(db, actor, Perm.ADMIN_ROLES)
    perms = set(body.permissions)
    ensure_no_escalation(db, actor, perms, None, f"create role {body.name!r}")
    role = Role(name=body.name, description=body.description, is_system=False)
    try:
        with db.begin_nested():  # added inside: a failed insert leaves nothing pending
            db.add(role)
            db.flush()
    except IntegrityError:
        raise AlreadyExists(f"role {body.name!r} already exists") from None
    for perm in sorted(perms):
        db.add(RolePermission(role_id=role.id, permission=perm))
    db.flush()
    audit.record(
        db,
        actor,
        "role.create",
        target_type="role",
        target_id=role.id,
        via=via,
        details={"role": role.name, "permissions": sorted(perms)},
    )
    rbac.rbac_changed(db, "role.create")
    return role_out(db, role)


def update_role(db: Session, *, actor: Actor, name: str, body: RoleUpdate) -> RoleOut:
    """Change a custom role's description and/or replace its permissions."""
    via = rbac.require(db, actor, Perm.ADMIN_ROLES)
    role = _mutable(db, name)
    details: dict[str, object] = {"role": name}
    if body.description is not None and body.description != role.description:
        role.description = body.description
        details["description"] = body.description
    if body.permissions is not None:
        have, want = role_permissions(db, role.id), set(body.permissions)
        added, removed = want - have, have - want
        ensure_no_escalation(db, actor, added, None, f"add permissions to role {name!r}")
        for perm in sorted(added):
            db.add(RolePermission(role_id=role.id, permission=perm))
        if removed:
            db.execute(
                delete(RolePermission).where(
                    RolePermission.role_id == role.id, RolePermission.permission.in_(removed)
                )
            )
        details["added"], details["removed"] = sorted(added), sorted(removed)
    db.flush()
    audit.record(
        db, actor, "role.update", target_type="role", target_id=role.id, via=via, details=details
    )
    rbac.rbac_changed(db, "role.update")
    return role_out(db, role)


def delete_role(db: Session, *, actor: Actor, name: str, force: bool = False) -> None:
    """Delete a custom role; ``Conflict`` while it is bound unless ``force`` unbinds everyone."""
    via = rbac.require(db, actor, Perm.ADMIN_ROLES)
    role = _mutable(db, name)
    ensure_no_escalation(db, actor, role_permissions(db, role.id), None, f"delete role {name!r}")
    bound = db.scalar(select(func.count()).where(UserRole.role_id == role.id)) or 0
    if bound and not force:
        raise Conflict(
            f"role {name!r} has {bound} binding(s); remove them first or delete with force",
            details={"role": name, "bindings": bound},
        )
    removed = [
        {
            "user": username_of(db, b.user_id),
            "project_id": None if b.project_id is None else str(b.project_id),
        }
        for b in db.scalars(select(UserRole).where(UserRole.role_id == role.id))
    ]
    db.execute(delete(UserRole).where(UserRole.role_id == role.id))
    db.execute(delete(RolePermission).where(RolePermission.role_id == role.id))
    audit.record(
        db,
        actor,
        "role.delete",
        target_type="role",
        target_id=role.id,
        via=via,
        details={"role": name, "force": force, "bindings_removed": removed},
    )
    db.delete(role)
    db.flush()
    rbac.rbac_changed(db, "role.delete")
