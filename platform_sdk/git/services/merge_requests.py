"""Merge requests: open, read, list, change, close/reopen, review, discuss, merge.

Reading needs ``project:read`` (``NotFound`` otherwise); every change — opening, reviewing,
commenting, merging — needs ``project:write``. Numbers come from ``projects.next_mr_number``
with the same atomic UPDATE … RETURNING as issues.

Rules:
- source and target must be distinct branches that exist when the request is opened (and
  again when it is reopened); at most one *open* request per branch pair (``AlreadyExists``).
- state moves only through :class:`MergeRequestState` (``IllegalTransition`` otherwise):
  open → merged (terminal) | closed → open.
- reviews and comments live in :mod:`.mr_discussion`.
- merging is :func:`platform_sdk.git.merge.merge_branches` on the bare repository; it does
  not require an approval (branch policies are for a later iteration).

Commits and diff of an open request use the live branch heads; of a merged or closed one the
heads recorded when it was merged/closed (branches may be gone by then).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from platform_sdk.core import audit, events
from platform_sdk.core.access import Actor, Perm
from platform_sdk.core.pagination import Page, PageParams, paginate
from platform_sdk.core.runtime import runtime_of
from platform_sdk.core.types import utcnow
from platform_sdk.errors import AlreadyExists, NotFound, ValidationFailed
from platform_sdk.git import merge as gitmerge
from platform_sdk.git.models import MergeRequest, MergeRequestState
from platform_sdk.git.mr_schemas import (
    MergeBody,
    MergeRequestCreate,
    MergeRequestOut,
    MergeRequestUpdate,
    MrCommitOut,
    MrDiffOut,
)
from platform_sdk.git.push_schemas import RefUpdate
from platform_sdk.git.repos import repo_path
from platform_sdk.git.services import pushes
from platform_sdk.identity.grants import username_of
from platform_sdk.identity.models import User
from platform_sdk.projects.access import access_project, project_label
from platform_sdk.projects.models import Project
from platform_sdk.projects.services.issues import _allocate_number

__all__ = [
    "close_merge_request",
    "create_merge_request",
    "get_merge_request",
    "get_mr_diff",
    "list_merge_requests",
    "list_mr_commits",
    "merge_merge_request",
    "reopen_merge_request",
    "update_merge_request",
]

CHANNEL = "events.merge_request"


# -- helpers ------------------------------------------------------------------------------
def _out(db: Session, mr: MergeRequest, label: str) -> MergeRequestOut:
    return MergeRequestOut(
        id=mr.id,
        project=label,
        number=mr.number,
        title=mr.title,
        body=mr.body,
        source_branch=mr.source_branch,
        target_branch=mr.target_branch,
        author=username_of(db, mr.author_id) or "?",
        state=mr.state,
        source_sha=mr.source_sha,
        target_sha=mr.target_sha,
        merge_strategy=mr.merge_strategy,
        merge_commit_sha=mr.merge_commit_sha,
        merged_by=username_of(db, mr.merged_by_id),
        merged_at=mr.merged_at,
        closed_at=mr.closed_at,
        created_at=mr.created_at,
        updated_at=mr.updated_at,
    )


def _git_dir(db: Session, label: str) -> Path:
    owner, _, name = label.partition("/")
    path = repo_path(runtime_of(db).settings, owner, name)
    if not path.is_dir():
        raise NotFound(f"{label} has no repository yet")
    return path


def _mr(db: Session, project: Project, number: int) -> MergeRequest:
    mr = db.scalar(
        select(MergeRequest).where(
            MergeRequest.project_id == project.id, MergeRequest.number == number
        )
    )
    if mr is None:
        raise NotFound(f"merge request !{number} not found")
    return mr


def _heads(git_dir: Path, mr: MergeRequest) -> tuple[str, str]:
    """(target, source) commits: live for open requests, recorded otherwise."""
    if mr.state != MergeRequestState.OPEN and mr.target_sha and mr.source_sha:
        return mr.target_sha, mr.source_sha
    target = gitmerge.branch_sha(git_dir, mr.target_branch)
    source = gitmerge.branch_sha(git_dir, mr.source_branch)
    if target is None or source is None:
        gone = mr.target_branch if target is None else mr.source_branch
        raise NotFound(f"branch {gone} of merge request !{mr.number} no longer exists")
    return target, source


def _event(
    db: Session,
    actor: Actor,
    project: Project,
    mr: MergeRequest,
    action: str,
    label: str,
    **extra: Any,
) -> None:
    payload: dict[str, Any] = {
        "type": "merge_request",
        "action": action,
        "project_id": str(project.id),
        "project": label,
        "actor": actor.username,
        "actor_id": str(actor.user_id),
        "number": mr.number,
        "title": mr.title,
        "author": username_of(db, mr.author_id),
        "author_id": str(mr.author_id),
        "source_branch": mr.source_branch,
        "target_branch": mr.target_branch,
        **extra,
    }
    events.emit(db, CHANNEL, payload)


def _record(
    db: Session,
    actor: Actor,
    action: str,
    mr: MergeRequest,
    via: uuid.UUID | None,
    details: dict[str, Any] | None = None,
) -> None:
    audit.record(
        db,
        actor,
        action,
        target_type="merge_request",
        target_id=mr.id,
        project_id=mr.project_id,
        via=via,
        details={"number": mr.number, **(details or {})},
    )


def _write(
    db: Session, actor: Actor, project: str, number: int
) -> tuple[Project, uuid.UUID | None, MergeRequest, str]:
    proj, via = access_project(db, actor, project, need=Perm.PROJECT_WRITE)
    return proj, via, _mr(db, proj, number), project_label(db, proj)


# -- merge requests -----------------------------------------------------------------------
def create_merge_request(
    db: Session, *, actor: Actor, project: str, body: MergeRequestCreate
) -> MergeRequestOut:
    """Open ``!n`` to merge ``source_branch`` into ``target_branch``."""
    proj, via = access_project(db, actor, project, need=Perm.PROJECT_WRITE)
    label = project_label(db, proj)
    if body.source_branch == body.target_branch:
        raise ValidationFailed("source and target branch must differ")
    git_dir = _git_dir(db, label)
    shas = {b: gitmerge.branch_sha(git_dir, b) for b in (body.source_branch, body.target_branch)}
    missing = [b for b, sha in shas.items() if sha is None]
    if missing:
        raise ValidationFailed(
            f"branch {', '.join(missing)} does not exist in {label}",
            details={"branches": missing},
        )
    mr = MergeRequest(
        project_id=proj.id,
        number=_allocate_number(db, proj.id, "next_mr_number"),
        title=body.title,
        body=body.body,
        source_branch=body.source_branch,
        target_branch=body.target_branch,
        author_id=actor.user_id,
        state=MergeRequestState.OPEN,
        source_sha=shas[body.source_branch],
        target_sha=shas[body.target_branch],
    )
    try:
        with db.begin_nested():
            db.add(mr)
            db.flush()
    except IntegrityError:
        raise AlreadyExists(
            f"an open merge request from {body.source_branch} into {body.target_branch} "
            "already exists"
        ) from None
    _record(db, actor, "merge_request.create", mr, via, {"title": body.title})
    _event(db, actor, proj, mr, "opened", label)
    return _out(db, mr, label)


def get_merge_request(db: Session, *, actor: Actor, project: str, number: int) -> MergeRequestOut:
    proj, _ = access_project(db, actor, project)
    return _out(db, _mr(db, proj, number), project_label(db, proj))


def list_merge_requests(
    db: Session,
    *,
    actor: Actor,
    project: str,
    page: PageParams,
    state: MergeRequestState | None = None,
    author: str | None = None,
    target_branch: str | None = None,
    search: str | None = None,
) -> Page[MergeRequestOut]:
    """Merge requests of ``project``, newest (highest number) first, filtered."""
    proj, _ = access_project(db, actor, project)
    stmt = select(MergeRequest).where(MergeRequest.project_id == proj.id)
    if state is not None:
        stmt = stmt.where(MergeRequest.state == state)
    if author:
        stmt = stmt.join(User, User.id == MergeRequest.author_id).where(User.username == author)
    if target_branch:
        stmt = stmt.where(MergeRequest.target_branch == target_branch)
    if search:
        like = f"%{search}%"
        stmt = stmt.where(or_(MergeRequest.title.ilike(like), MergeRequest.body.ilike(like)))
    label = project_label(db, proj)
    return paginate(
        db, stmt.order_by(MergeRequest.number.desc()), page, lambda m: _out(db, m, label)
    )


def update_merge_request(
    db: Session, *, actor: Actor, project: str, number: int, body: MergeRequestUpdate
) -> MergeRequestOut:
    """Change the title and/or body (fields not sent stay)."""
    proj, via, mr, label = _write(db, actor, project, number)
    changed = {}
    if body.title is not None and body.title != mr.title:
        mr.title = changed["title"] = body.title
    if body.body is not None and body.body != mr.body:
        mr.body = body.body
        changed["body"] = "(changed)"
    if changed:
        db.flush()
        _record(db, actor, "merge_request.update", mr, via, {"changed": changed})
        _event(db, actor, proj, mr, "updated", label)
    return _out(db, mr, label)


def close_merge_request(db: Session, *, actor: Actor, project: str, number: int) -> MergeRequestOut:
    """Close an open request without merging; its current heads are recorded."""
    proj, via, mr, label = _write(db, actor, project, number)
    mr.state = mr.state.transition(MergeRequestState.CLOSED)
    git_dir = repo_path(runtime_of(db).settings, *label.split("/", 1))
    if git_dir.is_dir():
        mr.target_sha = gitmerge.branch_sha(git_dir, mr.target_branch) or mr.target_sha
        mr.source_sha = gitmerge.branch_sha(git_dir, mr.source_branch) or mr.source_sha
    mr.closed_at = utcnow()
    db.flush()
    _record(db, actor, "merge_request.close", mr, via)
    _event(db, actor, proj, mr, "closed", label)
    return _out(db, mr, label)


def reopen_merge_request(
    db: Session, *, actor: Actor, project: str, number: int
) -> MergeRequestOut:
    """Reopen a closed request; both branches must still exist, and no other open request
    may cover the same pair (``AlreadyExists``)."""
    proj, via, mr, label = _write(db, actor, project, number)
    mr.state.transition(MergeRequestState.OPEN)
    git_dir = _git_dir(db, label)
    target = gitmerge.branch_sha(git_dir, mr.target_branch)
    source = gitmerge.branch_sha(git_dir, mr.source_branch)
    if target is None or source is None:
        gone = mr.target_branch if target is None else mr.source_branch
        raise ValidationFailed(f"cannot reopen: branch {gone} no longer exists")
    try:
        with db.begin_nested():
            mr.state = MergeRequestState.OPEN
            mr.closed_at = None
            mr.source_sha, mr.target_sha = source, target
            db.flush()
    except IntegrityError:
        raise AlreadyExists(
            f"another open merge request covers {mr.source_branch} into {mr.target_branch}"
        ) from None
    _record(db, actor, "merge_request.reopen", mr, via)
    _event(db, actor, proj, mr, "reopened", label)
    return _out(db, mr, label)


def list_mr_commits(db: Session, *, actor: Actor, project: str, number: int) -> list[MrCommitOut]:
    """``git log target..source``: the commits the request brings, newest first."""
    proj, _ = access_project(db, actor, project)
    mr = _mr(db, proj, number)
    git_dir = _git_dir(db, project_label(db, proj))
    target, source = _heads(git_dir, mr)
    return [MrCommitOut.model_validate(c) for c in gitmerge.log_range(git_dir, target, source)]


def get_mr_diff(db: Session, *, actor: Actor, project: str, number: int) -> MrDiffOut:
    """``git diff target...source``: the changes since the source forked from the target."""
    proj, _ = access_project(db, actor, project)
    mr = _mr(db, proj, number)
    git_dir = _git_dir(db, project_label(db, proj))
    target, source = _heads(git_dir, mr)
    return MrDiffOut.model_validate(gitmerge.diff_range(git_dir, target, source))


def merge_merge_request(
    db: Session, *, actor: Actor, project: str, number: int, body: MergeBody
) -> MergeRequestOut:
    """Merge on the bare repository (see :mod:`platform_sdk.git.merge`), then mark merged.

    Conflicts, a non-fast-forwardable target, or a target that moved (since
    ``expected_target_sha`` or during the merge) raise ``Conflict`` and leave the repository
    as it was.
    """
    proj, via, mr, label = _write(db, actor, project, number)
    mr.state.transition(MergeRequestState.MERGED)  # refuse early: closed or merged already
    user = db.get(User, actor.user_id)
    email = (user.email if user else None) or f"{actor.username}@users.platform.local"
    message = body.message or (
        f"Merge branch '{mr.source_branch}' into '{mr.target_branch}'\n\n"
        f"{mr.title} (!{mr.number})\n\n{mr.body}".rstrip()
        + "\n"
    )
    if body.message is None and body.strategy.value == "squash":
        message = f"{mr.title} (!{mr.number})\n\n{mr.body}".rstrip() + "\n"
    result = gitmerge.merge_branches(
        _git_dir(db, label),
        source_branch=mr.source_branch,
        target_branch=mr.target_branch,
        strategy=body.strategy,
        message=message,
        author=gitmerge.Signature(actor.username, email),
        expected_target=body.expected_target_sha,
    )
    mr.state = MergeRequestState.MERGED
    mr.merge_strategy = body.strategy
    mr.merge_commit_sha = result.commit
    mr.source_sha, mr.target_sha = result.source, result.target_before
    mr.merged_by_id = actor.user_id
    mr.merged_at = utcnow()
    db.flush()
    # The target branch moved like a push: record it so the push path (pipelines, push
    # webhooks) sees merges exactly as it sees pushes from a git client.
    pushes.record_push(
        db,
        actor=actor,
        project_id=proj.id,
        updates=[
            RefUpdate(
                ref=f"refs/heads/{mr.target_branch}",
                before=result.target_before,
                after=result.commit,
            )
        ],
    )
    details = {"strategy": body.strategy.value, "commit": result.commit}
    _record(db, actor, "merge_request.merge", mr, via, details)
    _event(db, actor, proj, mr, "merged", label, merge_commit=result.commit)
    return _out(db, mr, label)
