"""Finding a project by reference, and the visibility rule every project read goes through.

A reference is ``owner/name`` or the project's UUID. :func:`access_project` is Zulip's
``access_stream_by_id``: it answers ``NotFound`` both when the project does not exist and when
the actor may not read it, so nothing leaks; when the actor may read but lacks ``need``, it
answers ``PermissionDenied``.

Read access: ``public`` projects to everyone, ``internal`` ones to every signed-in actor, and
``private`` ones to actors holding ``project:read`` there (roles, project bindings,
delegations). A project-bounded token reaches only its own project.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_sdk.core.access import Actor, Perm
from platform_sdk.errors import NotFound, PermissionDenied
from platform_sdk.identity import rbac
from platform_sdk.identity.models import User
from platform_sdk.projects.models import Project, Visibility
from platform_sdk.projects.schemas import ProjectOut

__all__ = ["access_project", "can_read", "find_project", "project_label", "project_out"]


def find_project(db: Session, ref: str | uuid.UUID) -> Project | None:
    """The live project ``ref`` names (``owner/name`` or UUID), without any access check."""
    if isinstance(ref, uuid.UUID):
        project = db.get(Project, ref)
    else:
        text = ref.strip()
        owner, sep, name = text.partition("/")
        if not sep:
            try:
                project = db.get(Project, uuid.UUID(text))
            except ValueError:
                return None
        else:
            project = db.scalar(
                select(Project)
                .join(User, User.id == Project.owner_id)
                .where(User.username == owner, Project.name == name, Project.deleted_at.is_(None))
            )
    if project is None or project.deleted_at is not None:
        return None
    return project


def can_read(db: Session, actor: Actor, project: Project) -> bool:
    if actor.project_id is not None and actor.project_id != project.id:
        return False
    if project.visibility == Visibility.PUBLIC:
        return True
    if project.visibility == Visibility.INTERNAL:
        return actor.scopes is None or Perm.PROJECT_READ.value in actor.scopes
    return rbac.can(db, actor, Perm.PROJECT_READ, project.id)


def access_project(
    db: Session, actor: Actor, ref: str | uuid.UUID, need: Perm = Perm.PROJECT_READ
) -> tuple[Project, uuid.UUID | None]:
    """The project and the delegation ``need`` came through (None: own roles)."""
    project = find_project(db, ref)
    if project is None or not can_read(db, actor, project):
        raise NotFound(f"project {ref} not found")
    if need == Perm.PROJECT_READ:
        return project, None
    allowed, via = rbac.check(db, actor, need, project.id)
    if not allowed:
        raise PermissionDenied(
            f"{actor.username} lacks {need} in {project_label(db, project)}",
            details={"permission": need.value},
        )
    return project, via


def project_label(db: Session, project: Project) -> str:
    owner = db.scalar(select(User.username).where(User.id == project.owner_id))
    return f"{owner}/{project.name}"


def project_out(db: Session, project: Project) -> ProjectOut:
    owner = db.scalar(select(User.username).where(User.id == project.owner_id)) or "?"
    return ProjectOut(
        id=project.id,
        owner=owner,
        name=project.name,
        full_name=f"{owner}/{project.name}",
        description=project.description,
        visibility=project.visibility,
        default_branch=project.default_branch,
        protected_branches=list(project.protected_branches or []),
        created_at=project.created_at,
        updated_at=project.updated_at,
    )
