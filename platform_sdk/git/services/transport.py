"""Who may fetch from and push to a repository over HTTP (git smart HTTP and LFS).

The one authorization decision of the git transport, so the handlers stay plumbing:

* anonymous callers may read ``public`` projects; for anything else (a private or internal
  project, a push, or a project that does not exist) they get :class:`Unauthenticated`, which
  the handler turns into ``401`` + ``WWW-Authenticate: Basic`` so the git client asks for
  credentials — answered the same whether the project exists or not;
* signed-in callers who cannot read the project (or when it does not exist) get
  :class:`NotFound` (``404``): existence never leaks;
* readers without ``project:write`` who push get :class:`PermissionDenied` (``403``) naming
  the missing permission, which git prints as ``remote: …``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from platform_sdk.core.access import Actor, Perm
from platform_sdk.core.runtime import runtime_of
from platform_sdk.errors import NotFound, PermissionDenied, Unauthenticated
from platform_sdk.git.repos import repo_path
from platform_sdk.projects.access import access_project, find_project
from platform_sdk.projects.models import Visibility

__all__ = ["GitTarget", "authorize_git"]


@dataclass(frozen=True)
class GitTarget:
    """What a git request may touch, resolved once before any git process starts."""

    project_id: uuid.UUID
    label: str
    path: Path
    protected_branches: tuple[str, ...]
    write: bool


def authorize_git(
    db: Session, *, actor: Actor | None, owner: str, name: str, write: bool
) -> GitTarget:
    """The repository ``owner/name`` if ``actor`` (None: anonymous) may read it, or push when
    ``write``; raises ``Unauthenticated``/``NotFound``/``PermissionDenied`` as described above."""
    label = f"{owner}/{name}"
    if actor is None:
        project = find_project(db, label)
        if write or project is None or project.visibility != Visibility.PUBLIC:
            raise Unauthenticated(f"authentication required for {label}")
    else:
        need = Perm.PROJECT_WRITE if write else Perm.PROJECT_READ
        try:
            project, _via = access_project(db, actor, label, need=need)
        except PermissionDenied:
            raise PermissionDenied(
                f"{actor.username} lacks {Perm.PROJECT_WRITE.value} on {label}",
                details={"permission": Perm.PROJECT_WRITE.value},
            ) from None
    path = repo_path(runtime_of(db).settings, owner, name)
    if not path.is_dir():
        raise NotFound(f"project {label} has no repository")
    return GitTarget(
        project_id=project.id,
        label=label,
        path=path,
        protected_branches=tuple(project.protected_branches or ()),
        write=write,
    )
