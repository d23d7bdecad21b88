"""The repository browser as services: check read access, then read the bare repository.

Every function takes the project reference (``owner/name`` or id), runs
:func:`~platform_sdk.projects.access.access_project` — so an invisible project is
``NotFound``, exactly like a missing one — and hands the repository path to
:mod:`platform_sdk.git.browse`. ``ref`` defaults to the project's default branch. Nothing
here writes, so nothing is audited.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy.orm import Session

from platform_sdk.core.access import Actor
from platform_sdk.core.pagination import Page, PageParams
from platform_sdk.core.runtime import runtime_of
from platform_sdk.git import browse
from platform_sdk.git.repos import repo_path
from platform_sdk.git.schemas import (
    BranchOut,
    CommitDetailOut,
    CommitOut,
    CompareOut,
    FileOut,
    TagOut,
    TreeEntryOut,
)
from platform_sdk.projects.access import access_project, project_label
from platform_sdk.projects.models import Project

__all__ = [
    "compare",
    "get_commit",
    "get_tree",
    "list_branches",
    "list_tags",
    "log",
    "project_repo",
    "read_file",
]


def _repo(db: Session, project: Project) -> Path:
    owner, _, name = project_label(db, project).partition("/")
    return repo_path(runtime_of(db).settings, owner, name)


def _open(db: Session, actor: Actor, ref: str | uuid.UUID) -> tuple[Project, Path]:
    project, _ = access_project(db, actor, ref)
    return project, _repo(db, project)


def project_repo(db: Session, *, actor: Actor, project: str | uuid.UUID) -> Path:
    """Where the readable project's bare repository lives on disk."""
    return _open(db, actor, project)[1]


def list_branches(db: Session, *, actor: Actor, project: str | uuid.UUID) -> list[BranchOut]:
    proj, repo = _open(db, actor, project)
    return browse.list_branches(repo, proj.default_branch)


def list_tags(db: Session, *, actor: Actor, project: str | uuid.UUID) -> list[TagOut]:
    return browse.list_tags(_open(db, actor, project)[1])


def log(
    db: Session,
    *,
    actor: Actor,
    project: str | uuid.UUID,
    page: PageParams,
    ref: str | None = None,
    path: str | None = None,
) -> Page[CommitOut]:
    """Commits of ``ref``, newest first, paged; only those touching ``path`` if given."""
    proj, repo = _open(db, actor, project)
    return browse.log(repo, ref or proj.default_branch, page, path)


def get_commit(db: Session, *, actor: Actor, project: str | uuid.UUID, sha: str) -> CommitDetailOut:
    return browse.get_commit(_open(db, actor, project)[1], sha)


def get_tree(
    db: Session,
    *,
    actor: Actor,
    project: str | uuid.UUID,
    ref: str | None = None,
    path: str | None = None,
) -> list[TreeEntryOut]:
    proj, repo = _open(db, actor, project)
    return browse.tree(repo, ref or proj.default_branch, path)


def read_file(
    db: Session,
    *,
    actor: Actor,
    project: str | uuid.UUID,
    path: str,
    ref: str | None = None,
    limit: int = browse.READ_LIMIT,
) -> FileOut:
    proj, repo = _open(db, actor, project)
    return browse.read(repo, ref or proj.default_branch, path, limit)


def compare(
    db: Session, *, actor: Actor, project: str | uuid.UUID, base: str, head: str
) -> CompareOut:
    return browse.compare(_open(db, actor, project)[1], base, head)
