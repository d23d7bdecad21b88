"""Delegations: a user lends one permission they hold to another user or agent, for a while.

Rules, in the order they are checked:

- no self-delegation (``ValidationFailed``); ``expires_at``, when given, is timezone-aware and
  in the future (``ValidationFailed``);
- a project delegation names a project the grantor can read (``NotFound`` otherwise);
- the grantee exists and is active (``NotFound``);
- the grantor holds the permission through **their own** role bindings, reachable by their
  token (:func:`~platform_sdk.identity.rbac.held_without_delegation`): globally for a global
  delegation, globally or in that project for a project one. A permission held only by
  delegation cannot be passed on — the refusal says so — which keeps every chain one link long
  and every grant traceable to a role binding.

One unrevoked delegation exists per (grantor, grantee, permission, project) — the partial unique
indexes enforce it. A duplicate of an *active* one is ``AlreadyExists``; an *expired* one is
retired (marked revoked by the actor whose new delegation replaces it) and the new one created,
so renewing an expired delegation is simply delegating again.

Revoking needs to be the grantor or to hold ``admin:roles`` globally; revoked and expired
delegations report ``active: false``. Revocation takes effect at once: the service emits
``identity.rbac`` (every process drops its permission cache), and expiry needs no event because
RBAC compares ``expires_at`` with the clock on each check.

Who sees which delegation: holders of global ``admin:roles`` see all; others see those where
they are grantor or grantee. Unseen is ``NotFound``.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from platform_sdk.core import audit
from platform_sdk.core.access import Actor, Perm
from platform_sdk.core.pagination import Page, PageParams, paginate
from platform_sdk.core.types import utcnow
from platform_sdk.errors import (
    AlreadyExists,
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from platform_sdk.identity import rbac
from platform_sdk.identity.grants import delegation_out, user_by_name
from platform_sdk.identity.models import Delegation, User
from platform_sdk.identity.schemas import DelegationCreate, DelegationOut
from platform_sdk.projects.access import access_project, project_label

__all__ = ["create_delegation", "get_delegation", "list_delegations", "revoke_delegation"]


def _visible(db: Session, actor: Actor) -> ColumnElement[bool]:
    if rbac.can(db, actor, Perm.ADMIN_ROLES):
        return true()
    return or_(Delegation.grantor_id == actor.user_id, Delegation.grantee_id == actor.user_id)


def _find_visible(db: Session, actor: Actor, delegation_id: uuid.UUID) -> Delegation:
    found = db.scalar(select(Delegation).where(Delegation.id == delegation_id, _visible(db, actor)))
    if found is None:
        raise NotFound(f"delegation {delegation_id} not found")
    return found


def _check_expiry(expires_at: datetime | None, now: datetime) -> None:
    if expires_at is None:
        return
    if expires_at.tzinfo is None or expires_at.utcoffset() is None:
        raise ValidationFailed(
            "expires_at: give a timezone (e.g. 2026-01-02T03:04:05Z)",
            details={"param": "expires_at"},
        )
    if expires_at <= now:
        raise ValidationFailed("expires_at: must be in the future", details={"param": "expires_at"})


def _ensure_grantable(
    db: Session, actor: Actor, perm: str, project_id: uuid.UUID | None, where: str
) -> None:
    if rbac.held_without_delegation(db, actor, perm, project_id):
        return
    if rbac.can(db, actor, perm, project_id):
        raise PermissionDenied(
            f"{actor.username} holds {perm} {where} only by delegation; a delegated "
            "permission cannot be delegated again",
            details={"permission": perm, "reason": "re-delegation"},
        )
    raise PermissionDenied(
        f"{actor.username} cannot delegate {perm}: it does not hold it {where}",
        details={"permission": perm},
    )


def create_delegation(db: Session, *, actor: Actor, body: DelegationCreate) -> DelegationOut:
    """Lend ``body.permission`` to ``body.grantee`` (globally or in ``body.project``)."""
    now = utcnow()
    if body.grantee == actor.username:
        raise ValidationFailed("cannot delegate to yourself", details={"param": "grantee"})
    _check_expiry(body.expires_at, now)
    project_id: uuid.UUID | None = None
    label: str | None = None
    if body.project is not None:
        project, _ = access_project(db, actor, body.project)
        project_id, label = project.id, project_label(db, project)
    grantee = user_by_name(db, body.grantee, active=True)
    where = "globally" if label is None else f"in {label}"
    _ensure_grantable(db, actor, body.permission, project_id, where)

    existing = db.scalar(
        select(Delegation).where(
            Delegation.grantor_id == actor.user_id,
            Delegation.grantee_id == grantee.id,
            Delegation.permission == body.permission,
            Delegation.project_id.is_(None)
            if project_id is None
            else Delegation.project_id == project_id,
            Delegation.revoked_at.is_(None),
        )
    )
    replaced: uuid.UUID | None = None
    if existing is not None:
        if existing.expires_at is None or existing.expires_at > now:
            raise AlreadyExists(
                f"{actor.username} already delegates {body.permission} to {grantee.username} "
                f"{where} (delegation {existing.id})",
                details={"id": str(existing.id)},
            )
        existing.revoked_at, existing.revoked_by_id = now, actor.user_id
        replaced = existing.id
        db.flush()

    delegation = Delegation(
        grantor_id=actor.user_id,
        grantee_id=grantee.id,
        permission=body.permission,
        project_id=project_id,
        reason=body.reason,
        expires_at=body.expires_at,
    )
    try:
        with db.begin_nested():  # added inside: a failed insert leaves nothing pending
            db.add(delegation)
            db.flush()
    except IntegrityError:
        raise AlreadyExists(
            f"{actor.username} already delegates {body.permission} to {grantee.username} {where}"
        ) from None
    details: dict[str, object] = {
        "grantee": grantee.username,
        "permission": body.permission,
        "project": label,
        "expires_at": body.expires_at.isoformat() if body.expires_at else None,
        "reason": body.reason,
    }
    if replaced is not None:
        details["replaces_expired"] = str(replaced)
    audit.record(
        db,
        actor,
        "delegation.create",
        target_type="delegation",
        target_id=delegation.id,
        project_id=project_id,
        details=details,
    )
    rbac.rbac_changed(db, "delegation.create")
    return delegation_out(db, delegation)


def get_delegation(db: Session, *, actor: Actor, delegation_id: uuid.UUID) -> DelegationOut:
    return delegation_out(db, _find_visible(db, actor, delegation_id))


def revoke_delegation(db: Session, *, actor: Actor, delegation_id: uuid.UUID) -> DelegationOut:
    """Revoke at once: by the grantor, or by a holder of global ``admin:roles``."""
    delegation = _find_visible(db, actor, delegation_id)
    via: uuid.UUID | None = None
    if delegation.grantor_id != actor.user_id:
        allowed, via = rbac.check(db, actor, Perm.ADMIN_ROLES)
        if not allowed:
            raise PermissionDenied(
                "only the grantor or an admin (admin:roles) can revoke a delegation",
                details={"permission": Perm.ADMIN_ROLES.value},
            )
    if delegation.revoked_at is not None:
        raise Conflict(
            f"delegation {delegation.id} was already revoked at "
            f"{delegation.revoked_at.isoformat()}",
            details={"id": str(delegation.id)},
        )
    delegation.revoked_at, delegation.revoked_by_id = utcnow(), actor.user_id
    db.flush()
    out = delegation_out(db, delegation)
    audit.record(
        db,
        actor,
        "delegation.revoke",
        target_type="delegation",
        target_id=delegation.id,
        project_id=delegation.project_id,
        via=via,
        details={
            "grantor": out.grantor,
            "grantee": out.grantee,
            "permission": out.permission,
            "project": out.project,
        },
    )
    rbac.rbac_changed(db, "delegation.revoke")
    return out


def list_delegations(
    db: Session,
    *,
    actor: Actor,
    page: PageParams,
    grantor: str | None = None,
    grantee: str | None = None,
    project: str | None = None,
    active: bool | None = None,
    user: str | None = None,
) -> Page[DelegationOut]:
    """Delegations the actor may see, newest first; ``user`` keeps those it grants or receives,
    ``active`` only working (or not) ones."""
    stmt: Select[Delegation] = select(Delegation).where(_visible(db, actor))
    granting = aliased(User)
    stmt = stmt.join(granting, granting.id == Delegation.grantor_id)
    # An unknown user name is 404, as on every other route naming one (not an empty list).
    if grantor is not None:
        stmt = stmt.where(Delegation.grantor_id == user_by_name(db, grantor).id)
    if grantee is not None:
        stmt = stmt.where(Delegation.grantee_id == user_by_name(db, grantee).id)
    if user is not None:
        uid = user_by_name(db, user).id
        stmt = stmt.where(or_(Delegation.grantor_id == uid, Delegation.grantee_id == uid))
    if project is not None:
        found, _ = access_project(db, actor, project)
        stmt = stmt.where(Delegation.project_id == found.id)
    if active is not None:
        now = utcnow()
        working = and_(
            Delegation.revoked_at.is_(None),
            or_(Delegation.expires_at.is_(None), Delegation.expires_at > now),
            granting.is_active,
        )
        stmt = stmt.where(working if active else ~working)
    stmt = stmt.order_by(Delegation.created_at.desc(), Delegation.id)
    return paginate(db, stmt, page, lambda d: delegation_out(db, d))
