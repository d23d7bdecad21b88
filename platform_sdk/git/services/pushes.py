"""Pushes: recording what ``git receive-pack`` accepted, listing it, and branch protection.

:func:`record_push` is called by the smart HTTP handler after receive-pack exits, with the
updates the ``post-receive`` hook reported (so only refs git actually changed). It writes one
:class:`~platform_sdk.git.models.Push` row per ref, an audit row ``git.push`` and one
``events.push`` event per ref — in that order, in the caller's transaction, so transactional
subscribers (webhook deliveries) commit with the rows. ``forced`` (the old commit is not an
ancestor of the new one) and ``commits`` (how many commits the update made reachable) are
computed from the repository when the caller does not give them.

Branch protection is a project setting (``projects.protected_branches``: names or fnmatch
patterns matched against branch names). Changing it needs ``project:delete`` — the
permission of a project's admins — rather than ``project:write``: whoever may push must not be
able to lift the protection that constrains their pushes. It is *enforced* by the
``pre-receive`` hook (:mod:`platform_sdk.git.hooks`) on every pushed ref update.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_sdk.core import audit, events
from platform_sdk.core.access import Actor, Perm
from platform_sdk.core.pagination import Page, PageParams, paginate
from platform_sdk.core.runtime import runtime_of
from platform_sdk.git.hooks import is_zero
from platform_sdk.git.models import Push
from platform_sdk.git.push_schemas import PushOut, RefUpdate
from platform_sdk.git.repos import repo_path, run_git
from platform_sdk.projects.access import access_project, project_label

__all__ = ["list_pushes", "record_push"]

PUSH_CHANNEL = "events.push"


def _stats(git_dir: Path, update: RefUpdate) -> tuple[bool, int]:
    """(forced, commits) of one update, read from the repository after the push."""
    if update.forced is not None and update.commits is not None:
        return update.forced, update.commits
    if is_zero(update.after):
        return False, 0
    if is_zero(update.before):
        # Commits reachable from the new ref and from no other ref: what the push brought.
        proc = run_git(
            [
                "rev-list",
                "--count",
                update.after,
                "--not",
                f"--exclude={update.ref}",
                "--glob=refs/*",
            ],
            git_dir=git_dir,
            check=False,
        )
        forced = False
    else:
        ancestor = run_git(
            ["merge-base", "--is-ancestor", update.before, update.after],
            git_dir=git_dir,
            check=False,
        )
        forced = ancestor.returncode != 0
        proc = run_git(
            ["rev-list", "--count", update.after, f"^{update.before}"],
            git_dir=git_dir,
            check=False,
        )
    commits = int(proc.stdout.strip() or 0) if proc.returncode == 0 else 0
    return (update.forced if update.forced is not None else forced), (
        update.commits if update.commits is not None else commits
    )


def record_push(
    db: Session, *, actor: Actor, project_id: uuid.UUID, updates: Sequence[RefUpdate]
) -> list[PushOut]:
    """Record the ref updates of one accepted push (needs ``project:write``)."""
    project, via = access_project(db, actor, project_id, need=Perm.PROJECT_WRITE)
    label = project_label(db, project)
    owner, _, name = label.partition("/")
    git_dir = repo_path(runtime_of(db).settings, owner, name)
    rows: list[Push] = []
    for update in updates:
        forced, commits = _stats(git_dir, update)
        row = Push(
            project_id=project.id,
            pusher_id=actor.user_id,
            ref=update.ref,
            before=update.before,
            after=update.after,
            forced=forced,
            commit_count=commits,
        )
        db.add(row)
        rows.append(row)
    if not rows:
        return []
    db.flush()
    audit.record(
        db,
        actor,
        "git.push",
        target_type="project",
        target_id=project.id,
        project_id=project.id,
        via=via,
        details={
            "refs": [
                {"ref": r.ref, "before": r.before, "after": r.after, "forced": r.forced}
                for r in rows[:50]
            ],
        },
    )
    for row in rows:
        events.emit(
            db,
            PUSH_CHANNEL,
            {
                "type": "push",
                "project_id": str(project.id),
                "project": label,
                "actor": actor.username,
                "actor_id": str(actor.user_id),
                "ref": row.ref,
                "before": row.before,
                "after": row.after,
                "forced": row.forced,
                "created": is_zero(row.before),
                "deleted": is_zero(row.after),
                "commits": row.commit_count,
            },
        )
    return [PushOut.model_validate(r) for r in rows]


def list_pushes(
    db: Session, *, actor: Actor, project: str | uuid.UUID, page: PageParams | None = None
) -> Page[PushOut]:
    """The project's recorded ref updates, newest first (needs read access)."""
    proj, _ = access_project(db, actor, project)
    stmt = (
        select(Push)
        .where(Push.project_id == proj.id)
        .order_by(Push.created_at.desc(), Push.id.desc())
    )
    return paginate(db, stmt, page or PageParams(), PushOut.model_validate)
