"""Project services: create, get, list (the rest of projects comes with git hosting).

Creating a project binds its creator to the ``admin`` role on that project: an explicit,
audited binding rather than an implicit owner rule, so ``platform roles`` shows who holds what.
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from platform_sdk.core import audit
from platform_sdk.core.access import Actor, Perm
from platform_sdk.core.pagination import Page, PageParams, paginate
from platform_sdk.errors import AlreadyExists, PermissionDenied
from platform_sdk.identity import rbac
from platform_sdk.identity.models import Role, User, UserRole
from platform_sdk.projects.access import access_project, can_read, project_out
from platform_sdk.projects.models import Project, Visibility
from platform_sdk.projects.schemas import ProjectCreate, ProjectOut

__all__ = ["create_project", "get_project", "list_projects"]


def create_project(db: Session, *, actor: Actor, body: ProjectCreate) -> ProjectOut:
    """A new project owned by the actor, who becomes its admin."""
    if actor.project_id is not None or (
        actor.scopes is not None and Perm.PROJECT_WRITE.value not in actor.scopes
    ):
        raise PermissionDenied("this token cannot create projects")
    project = Project(
        owner_id=actor.user_id,
        name=body.name,
        description=body.description,
        visibility=body.visibility,
        default_branch=body.default_branch,
    )
    try:
        with db.begin_nested():
            db.add(project)
            db.flush()
    except IntegrityError:
        raise AlreadyExists(f"{actor.username}/{body.name} already exists") from None
    admin_role = db.scalars(select(Role).where(Role.name == "admin")).one()
    db.add(
        UserRole(
            user_id=actor.user_id,
            role_id=admin_role.id,
            project_id=project.id,
            granted_by_id=actor.user_id,
        )
    )
    audit.record(
        db,
        actor,
        "project.create",
        target_type="project",
        target_id=project.id,
        project_id=project.id,
        details={"name": body.name, "visibility": body.visibility.value},
    )
    rbac.rbac_changed(db, "project.create")
    db.flush()
    return project_out(db, project)


def get_project(db: Session, *, actor: Actor, ref: str) -> ProjectOut:
    project, _ = access_project(db, actor, ref)
    return project_out(db, project)


def list_projects(
    db: Session,
    *,
    actor: Actor,
    page: PageParams,
    owner: str | None = None,
    search: str | None = None,
) -> Page[ProjectOut]:
    """Projects the actor may read, newest first."""
    stmt = select(Project).where(Project.deleted_at.is_(None))
    if owner is not None:
        stmt = stmt.join(User, User.id == Project.owner_id).where(User.username == owner)
    if search:
        like = f"%{search.lower()}%"
        stmt = stmt.where(or_(Project.name.ilike(like), Project.description.ilike(like)))
    if actor.project_id is not None:
        stmt = stmt.where(Project.id == actor.project_id)
    if not rbac.can(db, actor, Perm.PROJECT_READ):
        readable = set(rbac.readable_projects(db, actor))
        stmt = stmt.where(or_(Project.visibility != Visibility.PRIVATE, Project.id.in_(readable)))
    stmt = stmt.order_by(Project.created_at.desc(), Project.id)
    result = paginate(db, stmt, page, lambda p: p)
    items = [project_out(db, p) for p in result.items if can_read(db, actor, p)]
    return Page[ProjectOut](
        items=items,
        page=result.page,
        per_page=result.per_page,
        total=result.total,
        next_page=result.next_page,
    )
