"""Role bindings: a user holds a role globally, or in one project.

Who may change a binding depends on its scope:

- a **global** binding needs ``admin:roles`` globally;
- a **project** binding needs ``admin:roles`` in that project (a global or project binding, or a
  delegation), and the project must be readable by the actor, else ``NotFound``.

On top of that, nobody hands out more than they have: the role's permissions must all be held by
the actor in the binding's scope (:func:`~platform_sdk.identity.grants.ensure_no_escalation`), so
a project admin cannot bind a role more powerful than their own there. The same rule applies to
removing a binding, so a lesser admin cannot strip a greater one. Removing the global ``admin``
binding of the last active admin is a ``Conflict``: the platform would have nobody to administer
it.

Who sees which binding: holders of global ``admin:roles`` see all of them; everyone else sees
their own, plus every binding in projects where they hold ``admin:roles``. A binding the actor
may not see is ``NotFound``; one they see but may not change is ``PermissionDenied``.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, Select, func, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from platform_sdk.core import audit
from platform_sdk.core.access import Actor, Perm
from platform_sdk.core.pagination import Page, PageParams, paginate
from platform_sdk.errors import AlreadyExists, Conflict, NotFound
from platform_sdk.identity import rbac
from platform_sdk.identity.grants import (
    binding_out,
    ensure_no_escalation,
    role_by_name,
    role_permissions,
    user_by_name,
)
from platform_sdk.identity.models import Role, User, UserRole
from platform_sdk.identity.schemas import BindingCreate, BindingOut
from platform_sdk.projects.access import access_project, project_label

__all__ = ["create_binding", "delete_binding", "get_binding", "list_bindings", "unbind"]

_ADMIN = Perm.ADMIN_ROLES.value


def _administered_projects(db: Session, actor: Actor) -> set[uuid.UUID] | None:
    """Projects where the actor holds ``admin:roles``; None when it holds it globally."""
    if rbac.can(db, actor, Perm.ADMIN_ROLES):
        return None
    grants = rbac.permission_cache(db).grants(db, actor.user_id)
    candidates = {pid for pid, perms in grants.project_perms.items() if _ADMIN in perms}
    candidates |= {
        g.project_id
        for g in grants.delegated
        if g.project_id is not None and g.permission == _ADMIN
    }
    if actor.project_id is not None:  # a bounded token of a global holder reaches its project
        candidates.add(actor.project_id)
    return {pid for pid in candidates if rbac.can(db, actor, Perm.ADMIN_ROLES, pid)}


def _visible(db: Session, actor: Actor) -> ColumnElement[bool]:
    projects = _administered_projects(db, actor)
    if projects is None:
        return true()
    return or_(UserRole.user_id == actor.user_id, UserRole.project_id.in_(projects))


def _find_visible(db: Session, actor: Actor, binding_id: uuid.UUID) -> UserRole:
    binding = db.scalar(select(UserRole).where(UserRole.id == binding_id, _visible(db, actor)))
    if binding is None:
        raise NotFound(f"binding {binding_id} not found")
    return binding


def list_bindings(
    db: Session,
    *,
    actor: Actor,
    page: PageParams,
    user: str | None = None,
    role: str | None = None,
    project: str | None = None,
) -> Page[BindingOut]:
    """Bindings the actor may see, newest first, filtered by user name, role name, project."""
    stmt: Select[UserRole] = select(UserRole).where(_visible(db, actor))
    if user is not None:  # an unknown user is 404, as on every other route naming one
        stmt = stmt.where(UserRole.user_id == user_by_name(db, user).id)
    if role is not None:
        stmt = stmt.join(Role, Role.id == UserRole.role_id).where(Role.name == role)
    if project is not None:
        found, _ = access_project(db, actor, project)
        stmt = stmt.where(UserRole.project_id == found.id)
    stmt = stmt.order_by(UserRole.created_at.desc(), UserRole.id)
    return paginate(db, stmt, page, lambda b: binding_out(db, b))


def get_binding(db: Session, *, actor: Actor, binding_id: uuid.UUID) -> BindingOut:
    return binding_out(db, _find_visible(db, actor, binding_id))


def create_binding(db: Session, *, actor: Actor, body: BindingCreate) -> BindingOut:
    """Bind ``body.user`` to ``body.role``, globally or in ``body.project``."""
    project_id: uuid.UUID | None = None
    label: str | None = None
    if body.project is not None:
        project, via = access_project(db, actor, body.project, need=Perm.ADMIN_ROLES)
        project_id, label = project.id, project_label(db, project)
    else:
        via = rbac.require(db, actor, Perm.ADMIN_ROLES)
    role = role_by_name(db, body.role)
    target = user_by_name(db, body.user)
    ensure_no_escalation(
        db, actor, role_permissions(db, role.id), project_id, f"grant role {role.name!r}"
    )
    binding = UserRole(
        user_id=target.id, role_id=role.id, project_id=project_id, granted_by_id=actor.user_id
    )
    try:
        with db.begin_nested():  # added inside: a failed insert leaves nothing pending
            db.add(binding)
            db.flush()
    except IntegrityError:
        raise AlreadyExists(
            f"{target.username} already has role {role.name!r} {_where(label)}"
        ) from None
    audit.record(
        db,
        actor,
        "binding.create",
        target_type="binding",
        target_id=binding.id,
        project_id=project_id,
        via=via,
        details={"role": role.name, "user": target.username, "project": label},
    )
    rbac.rbac_changed(db, "binding.create")
    return binding_out(db, binding)


def _where(label: str | None) -> str:
    return "globally" if label is None else f"in {label}"


def _last_admin(db: Session, binding: UserRole, role: Role) -> bool:
    if binding.project_id is not None or role.name != "admin":
        return False
    if not db.scalar(select(User.is_active).where(User.id == binding.user_id)):
        return False
    others = db.scalar(
        select(func.count())
        .select_from(UserRole)
        .join(User, User.id == UserRole.user_id)
        .where(
            UserRole.role_id == role.id,
            UserRole.project_id.is_(None),
            UserRole.user_id != binding.user_id,
            User.is_active,
        )
    )
    return not others


def _delete(db: Session, actor: Actor, binding: UserRole) -> None:
    role = db.get_one(Role, binding.role_id)
    label: str | None = None
    if binding.project_id is not None:
        project, via = access_project(db, actor, binding.project_id, need=Perm.ADMIN_ROLES)
        label = project_label(db, project)
    else:
        via = rbac.require(db, actor, Perm.ADMIN_ROLES)
    ensure_no_escalation(
        db, actor, role_permissions(db, role.id), binding.project_id, f"revoke role {role.name!r}"
    )
    if _last_admin(db, binding, role):
        raise Conflict("this is the last active admin's admin role; bind another admin first")
    username = db.scalar(select(User.username).where(User.id == binding.user_id))
    audit.record(
        db,
        actor,
        "binding.delete",
        target_type="binding",
        target_id=binding.id,
        project_id=binding.project_id,
        via=via,
        details={"role": role.name, "user": username, "project": label},
    )
    db.delete(binding)
    db.flush()
    rbac.rbac_changed(db, "binding.delete")


def delete_binding(db: Session, *, actor: Actor, binding_id: uuid.UUID) -> None:
    """Remove one binding by id."""
    _delete(db, actor, _find_visible(db, actor, binding_id))


def unbind(db: Session, *, actor: Actor, user: str, role: str, project: str | None = None) -> None:
    """Remove ``user``'s binding to ``role`` (globally, or in ``project``)."""
    role_row = role_by_name(db, role)
    target = user_by_name(db, user)
    stmt = select(UserRole).where(UserRole.user_id == target.id, UserRole.role_id == role_row.id)
    if project is not None:
        found, _ = access_project(db, actor, project)
        stmt = stmt.where(UserRole.project_id == found.id)
        label: str | None = project_label(db, found)
    else:
        stmt = stmt.where(UserRole.project_id.is_(None))
        label = None
    binding = db.scalar(stmt.where(_visible(db, actor)))
    if binding is None:
        raise NotFound(f"{user} has no role {role!r} {_where(label)}")
    _delete(db, actor, binding)
