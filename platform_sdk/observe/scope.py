"""Which telemetry an actor may read: the projects where it holds ``observe:read``.

``observe:read`` held globally (a global role binding, e.g. admin or developer bound
globally) reaches every project and the rows that belong to none (the platform's own
telemetry). Held per project (a project binding or a delegation), it reaches those projects
only. A token narrowed to other scopes, or bounded to one project, narrows it further — the
same rule :func:`platform_sdk.identity.rbac.check` applies everywhere.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_sdk.core.access import Actor, Perm
from platform_sdk.identity import rbac
from platform_sdk.identity.models import User
from platform_sdk.observe.query import Scope
from platform_sdk.projects.models import Project

__all__ = ["ActorScope", "actor_scope", "project_labels"]


@dataclass(frozen=True)
class ActorScope:
    """The :class:`Scope` of telemetry rows plus the project ids, for platform tables."""

    scope: Scope
    project_ids: frozenset[uuid.UUID]
    global_read: bool


def project_labels(db: Session, ids: set[uuid.UUID] | None = None) -> dict[uuid.UUID, str]:
    """``owner/name`` of live projects (of ``ids`` when given)."""
    stmt = (
        select(Project.id, User.username, Project.name)
        .join(User, User.id == Project.owner_id)
        .where(Project.deleted_at.is_(None))
    )
    if ids is not None:
        stmt = stmt.where(Project.id.in_(ids))
    return {pid: f"{owner}/{name}" for pid, owner, name in db.execute(stmt).all()}


def actor_scope(db: Session, actor: Actor, perm: Perm = Perm.OBSERVE_READ) -> ActorScope:
    """What ``actor`` may read with ``perm`` (``observe:read``)."""
    labels = project_labels(db)
    global_read = actor.project_id is None and rbac.can(db, actor, perm, None)
    if global_read:
        allowed = set(labels)
    else:
        allowed = {pid for pid in labels if rbac.can(db, actor, perm, pid)}
    # a global reader sees every row: no per-row filter to evaluate at all
    scope = (
        Scope(None, unowned=True) if global_read else Scope(frozenset(labels[p] for p in allowed))
    )
    return ActorScope(scope, frozenset(allowed), global_read)
