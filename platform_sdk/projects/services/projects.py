"""Project services: create, get, list, update and (soft) delete, with their repositories.

Creating a project binds its creator to the ``admin`` role on that project: an explicit,
audited binding rather than an implicit owner rule, so ``platform roles`` shows who holds what.

Database and disk. Every project has a bare repository at ``repos/{owner}/{name}.git``
(:func:`~platform_sdk.git.repos.repo_path`). The filesystem is not transactional, so the order
is chosen to keep the two consistent:

- **create** flushes the row first — a taken name fails before anything touches the disk —
  then runs ``git init --bare``. If the transaction later rolls back, a rollback hook removes
  the directory it created; should the process die before that, an empty repository is left
  behind, which is harmless: ``git init`` on an existing repository only re-initialises it,
  so creating the project again works. A leftover directory *with history* (never expected)
  is moved aside to ``repos/.deleted/`` rather than inherited by the new project.
- **delete** is a soft delete (``deleted_at``; the partial unique index frees the name) that
  moves the repository to ``repos/.deleted/{project_id}.git``, so the name can be reused at
  once and the old history is kept for an operator to restore. A rollback moves it back.
- **update** of ``default_branch`` points the repository's ``HEAD`` at the branch (what
  clones check out). The browser reads the default from the database, so a rollback that
  leaves ``HEAD`` ahead of the row only changes what a fresh clone checks out.

Permissions: description and default branch need ``project:write``; visibility and protected
branches widen access or weaken protection, so they need ``project:delete`` (the project
admin's permission); delete needs ``project:delete``. Each change is audited and emitted on
``events.project`` after commit.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import event, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from platform_sdk.core import audit, events
from platform_sdk.core.access import Actor, Perm
from platform_sdk.core.pagination import Page, PageParams, paginate
from platform_sdk.core.runtime import runtime_of
from platform_sdk.core.types import utcnow
from platform_sdk.errors import AlreadyExists, PermissionDenied, ValidationFailed
from platform_sdk.git import browse
from platform_sdk.git.repos import init_bare, repo_path, repos_root
from platform_sdk.identity import rbac
from platform_sdk.identity.models import Role, User, UserRole
from platform_sdk.projects.access import access_project, can_read, project_label, project_out
from platform_sdk.projects.models import Project, Visibility
from platform_sdk.projects.schemas import ProjectCreate, ProjectOut, ProjectUpdate

__all__ = ["create_project", "delete_project", "get_project", "list_projects", "update_project"]

EVENTS = "events.project"


def _repo_dir(db: Session, project: Project) -> Path:
    owner, _, name = project_label(db, project).partition("/")
    return repo_path(runtime_of(db).settings, owner, name)


def _graveyard(db: Session) -> Path:
    return repos_root(runtime_of(db).settings) / ".deleted"


def _on_rollback(db: Session, undo: Callable[[], None]) -> None:
    """Run ``undo`` if this session's transaction rolls back (not after it commits)."""
    state = {"settled": False}

    def committed(_session: Session) -> None:
        state["settled"] = True

    def rolled_back(_session: Session) -> None:
        if not state["settled"]:
            state["settled"] = True
            undo()

    event.listen(db, "after_commit", committed, once=True)
    event.listen(db, "after_rollback", rolled_back, once=True)


def _emit(db: Session, action: str, project: Project, **extra: Any) -> None:
    payload = {"action": action, "project_id": str(project.id), "name": project.name}
    events.emit(db, EVENTS, payload | extra)


def _init_repo(db: Session, project: Project) -> None:
    path = _repo_dir(db, project)
    if not browse.is_empty(path):  # stale history under a free name: never inherit it
        grave = _graveyard(db)
        grave.mkdir(parents=True, exist_ok=True)
        path.rename(grave / f"orphan-{uuid.uuid4().hex}.git")
    existed = path.exists()
    try:
        init_bare(path, project.default_branch)
    except BaseException:
        if not existed:
            shutil.rmtree(path, ignore_errors=True)
        raise
    if not existed:
        _on_rollback(db, lambda: shutil.rmtree(path, ignore_errors=True))


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
    _init_repo(db, project)
    _emit(db, "create", project)
    return project_out(db, project)


def get_project(db: Session, *, actor: Actor, ref: str | uuid.UUID) -> ProjectOut:
    project, _ = access_project(db, actor, ref)
    return project_out(db, project)


def update_project(
    db: Session, *, actor: Actor, ref: str | uuid.UUID, body: ProjectUpdate
) -> ProjectOut:
    """Change description, visibility, default branch or protected branches (not the name).

    A new default branch must exist in the repository, unless the repository is still empty
    (then it names the branch the first push will create).
    """
    fields = body.model_dump(exclude_unset=True, exclude_none=True)
    sensitive = {"visibility", "protected_branches"} & fields.keys()
    need = Perm.PROJECT_DELETE if sensitive else Perm.PROJECT_WRITE
    project, via = access_project(db, actor, ref, need=need)
    repo = _repo_dir(db, project)
    if "protected_branches" in fields:
        fields["protected_branches"] = list(dict.fromkeys(fields["protected_branches"]))
    branch = fields.get("default_branch")
    if (
        branch
        and branch != project.default_branch
        and not browse.is_empty(repo)
        and not browse.branch_exists(repo, branch)
    ):
        raise ValidationFailed(
            f"default_branch: no branch {branch!r} in the repository",
            details={"param": "default_branch"},
        )
    changes = {
        key: [_plain(getattr(project, key)), _plain(value)]
        for key, value in fields.items()
        if getattr(project, key) != value
    }
    for key in changes:
        setattr(project, key, fields[key])
    if changes:
        audit.record(
            db,
            actor,
            "project.update",
            target_type="project",
            target_id=project.id,
            project_id=project.id,
            via=via,
            details={"changes": changes},
        )
        db.flush()
        if "default_branch" in changes:
            browse.set_head(repo, project.default_branch)
        _emit(db, "update", project, changes=sorted(changes))
    return project_out(db, project)


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Visibility) else value


def delete_project(db: Session, *, actor: Actor, ref: str | uuid.UUID) -> None:
    """Soft-delete the project (freeing its name) and move its repository aside."""
    project, via = access_project(db, actor, ref, need=Perm.PROJECT_DELETE)
    label = project_label(db, project)
    repo = _repo_dir(db, project)
    project.deleted_at = utcnow()
    audit.record(
        db,
        actor,
        "project.delete",
        target_type="project",
        target_id=project.id,
        project_id=project.id,
        via=via,
        details={"name": label},
    )
    db.flush()
    _emit(db, "delete", project)
    if repo.exists():
        grave = _graveyard(db) / f"{project.id}.git"
        grave.parent.mkdir(parents=True, exist_ok=True)
        if grave.exists():  # never overwrite what an earlier attempt left there
            grave = grave.with_name(f"{project.id}-{uuid.uuid4().hex[:8]}.git")
        repo.rename(grave)

        def restore() -> None:
            if grave.exists() and not repo.exists():
                grave.rename(repo)

        _on_rollback(db, restore)


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
