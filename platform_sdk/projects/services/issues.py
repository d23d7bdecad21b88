"""Issues and their comments: create, read, list, change, close, reopen, assign, discuss.

Authorization goes through :func:`access_project`: reading needs ``project:read`` (and answers
``NotFound`` when the project is invisible), every change needs ``project:write``
(``PermissionDenied`` otherwise). One exception: the author of a comment may edit it with
only read access left — it is their own words.

Numbers are allocated from the project row in the inserting transaction::

    UPDATE projects SET next_issue_number = next_issue_number + 1
    WHERE id = :id RETURNING next_issue_number - 1

The UPDATE takes the row lock (PostgreSQL) or the write lock (SQLite), so concurrent
creators serialise on it and each gets its own number; a rolled-back creation returns its
number with it, so numbers stay dense.

Every change is audited (``issue.*``, ``comment.*``) and emits ``events.issue`` with the
payload documented in the webhooks contract (:func:`_event`).

``_allocate_number`` and ``_comment_out`` are shared with the merge request service
(``platform_sdk.git.services.merge_requests``), which numbers from ``next_mr_number`` and keeps
its comments in the same table; they are underscored because they are helpers without an
actor, not services.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import exists, func, literal_column, or_, select, text, update
from sqlalchemy.orm import Session

from platform_sdk.core import audit, events
from platform_sdk.core.access import Actor, Perm
from platform_sdk.core.pagination import Page, PageParams, paginate
from platform_sdk.core.types import utcnow
from platform_sdk.errors import NotFound, PermissionDenied, ValidationFailed
from platform_sdk.identity import rbac
from platform_sdk.identity.grants import username_of
from platform_sdk.identity.models import User
from platform_sdk.projects.access import access_project, can_read, project_label
from platform_sdk.projects.comments import add_comment
from platform_sdk.projects.issue_schemas import (
    CommentCreate,
    CommentOut,
    IssueCreate,
    IssueOut,
    IssueUpdate,
)
from platform_sdk.projects.models import Comment, Issue, IssueState, Project

__all__ = [
    "assign_issue",
    "close_issue",
    "create_comment",
    "create_issue",
    "edit_comment",
    "get_issue",
    "list_comments",
    "list_issues",
    "reopen_issue",
    "update_issue",
]

CHANNEL = "events.issue"


# -- helpers ------------------------------------------------------------------------------
def _out(db: Session, issue: Issue, label: str) -> IssueOut:
    return IssueOut(
        id=issue.id,
        project=label,
        number=issue.number,
        title=issue.title,
        body=issue.body,
        state=issue.state,
        labels=list(issue.labels or []),
        author=username_of(db, issue.author_id) or "?",
        assignee=username_of(db, issue.assignee_id),
        created_at=issue.created_at,
        updated_at=issue.updated_at,
        closed_at=issue.closed_at,
    )


def _comment_out(db: Session, c: Comment, *, mr_number: int | None = None) -> CommentOut:
    """A comment row as its schema (shared with merge request comments)."""
    issue_number = (
        db.scalar(select(Issue.number).where(Issue.id == c.issue_id)) if c.issue_id else None
    )
    return CommentOut(
        id=c.id,
        author=username_of(db, c.author_id) or "?",
        body=c.body,
        created_at=c.created_at,
        edited_at=c.edited_at,
        issue_number=issue_number,
        merge_request_number=mr_number,
    )


def _resolve_assignee(db: Session, project: Project, username: str) -> uuid.UUID:
    """The user ``username`` if they may read ``project`` (ValidationFailed naming them)."""
    user = db.scalar(select(User).where(User.username == username))
    if user is None or not user.is_active:
        raise ValidationFailed(f"assignee {username}: no such active user")
    if not can_read(db, Actor(user_id=user.id, username=user.username), project):
        raise ValidationFailed(
            f"assignee {username} cannot read this project", details={"assignee": username}
        )
    return user.id


def _issue(db: Session, project: Project, number: int) -> Issue:
    issue = db.scalar(select(Issue).where(Issue.project_id == project.id, Issue.number == number))
    if issue is None:
        raise NotFound(f"issue #{number} not found")
    return issue


def _event(
    db: Session, actor: Actor, project: Project, issue: Issue, action: str, label: str
) -> None:
    payload: dict[str, Any] = {
        "type": "issue",
        "action": action,
        "project_id": str(project.id),
        "project": label,
        "actor": actor.username,
        "actor_id": str(actor.user_id),
        "number": issue.number,
        "title": issue.title,
        "author": username_of(db, issue.author_id),
        "author_id": str(issue.author_id),
        "assignee": username_of(db, issue.assignee_id),
        "assignee_id": str(issue.assignee_id) if issue.assignee_id else None,
    }
    events.emit(db, CHANNEL, payload)


def _record(
    db: Session,
    actor: Actor,
    action: str,
    issue: Issue,
    via: uuid.UUID | None,
    details: dict[str, Any],
) -> None:
    audit.record(
        db,
        actor,
        action,
        target_type="issue",
        target_id=issue.id,
        project_id=issue.project_id,
        via=via,
        details={"number": issue.number, **details},
    )


def _allocate_number(db: Session, project_id: uuid.UUID, column: str) -> int:
    """The next number of ``column`` (``next_issue_number``/``next_mr_number``), atomically."""
    counter = getattr(Project, column)
    stmt = (
        update(Project)
        .where(Project.id == project_id)
        .values({counter: counter + 1})
        .returning(counter - 1)
        .execution_options(synchronize_session=False)
    )
    number = db.execute(stmt).scalar_one()
    return int(number)


# -- issues -------------------------------------------------------------------------------
def create_issue(db: Session, *, actor: Actor, project: str, body: IssueCreate) -> IssueOut:
    """Open issue ``#n`` (the project's next number) authored by the actor."""
    proj, via = access_project(db, actor, project, need=Perm.PROJECT_WRITE)
    assignee_id = _resolve_assignee(db, proj, body.assignee) if body.assignee else None
    number = _allocate_number(db, proj.id, "next_issue_number")
    issue = Issue(
        project_id=proj.id,
        number=number,
        title=body.title,
        body=body.body,
        labels=body.labels,
        author_id=actor.user_id,
        assignee_id=assignee_id,
        state=IssueState.OPEN,
    )
    with db.begin_nested():
        db.add(issue)
        db.flush()
    _record(db, actor, "issue.create", issue, via, {"title": body.title})
    label = project_label(db, proj)
    _event(db, actor, proj, issue, "opened", label)
    return _out(db, issue, label)


def get_issue(db: Session, *, actor: Actor, project: str, number: int) -> IssueOut:
    proj, _ = access_project(db, actor, project)
    return _out(db, _issue(db, proj, number), project_label(db, proj))


def _has_label(db: Session, label: str) -> Any:
    if db.get_bind().dialect.name == "postgresql":
        return text(":label = ANY(issues.labels)").bindparams(label=label)
    return exists(
        select(literal_column("1"))
        .select_from(func.json_each(Issue.labels).table_valued("value"))
        .where(literal_column("value") == label)
    )


def list_issues(
    db: Session,
    *,
    actor: Actor,
    project: str,
    page: PageParams,
    state: IssueState | None = None,
    label: str | None = None,
    assignee: str | None = None,
    search: str | None = None,
) -> Page[IssueOut]:
    """Issues of ``project``, newest (highest number) first, filtered.

    ``assignee`` is a username, or ``"none"`` for unassigned issues; ``search`` matches the
    title or body, case-insensitively.
    """
    proj, _ = access_project(db, actor, project)
    stmt = select(Issue).where(Issue.project_id == proj.id)
    if state is not None:
        stmt = stmt.where(Issue.state == state)
    if label:
        stmt = stmt.where(_has_label(db, label))
    if assignee == "none":
        stmt = stmt.where(Issue.assignee_id.is_(None))
    elif assignee:
        stmt = stmt.join(User, User.id == Issue.assignee_id).where(User.username == assignee)
    if search:
        like = f"%{search}%"
        stmt = stmt.where(or_(Issue.title.ilike(like), Issue.body.ilike(like)))
    stmt = stmt.order_by(Issue.number.desc())
    label_text = project_label(db, proj)
    return paginate(db, stmt, page, lambda i: _out(db, i, label_text))


def update_issue(
    db: Session, *, actor: Actor, project: str, number: int, body: IssueUpdate
) -> IssueOut:
    """Change the fields present in ``body`` (title, body, labels, assignee)."""
    proj, via = access_project(db, actor, project, need=Perm.PROJECT_WRITE)
    issue = _issue(db, proj, number)
    sent = body.model_fields_set
    changed: dict[str, Any] = {}
    for field in ("title", "body", "labels"):
        value = getattr(body, field)
        if field in sent and value is not None and value != getattr(issue, field):
            setattr(issue, field, value)
            changed[field] = value if field != "body" else "(changed)"
    assigned = False
    if "assignee" in sent:
        new_id = _resolve_assignee(db, proj, body.assignee) if body.assignee else None
        if new_id != issue.assignee_id:
            issue.assignee_id = new_id
            changed["assignee"] = body.assignee
            assigned = True
    label = project_label(db, proj)
    if changed:
        db.flush()
        _record(db, actor, "issue.update", issue, via, {"changed": changed})
        only_assignee = assigned and set(changed) == {"assignee"}
        _event(db, actor, proj, issue, "assigned" if only_assignee else "updated", label)
    return _out(db, issue, label)


def assign_issue(
    db: Session, *, actor: Actor, project: str, number: int, assignee: str | None
) -> IssueOut:
    """Assign the issue to ``assignee`` (a username who can read the project), or unassign."""
    return update_issue(
        db, actor=actor, project=project, number=number, body=IssueUpdate(assignee=assignee)
    )


def _set_state(db: Session, actor: Actor, project: str, number: int, new: IssueState) -> IssueOut:
    proj, via = access_project(db, actor, project, need=Perm.PROJECT_WRITE)
    issue = _issue(db, proj, number)
    issue.state = issue.state.transition(new)
    issue.closed_at = utcnow() if new == IssueState.CLOSED else None
    db.flush()
    verb = "close" if new == IssueState.CLOSED else "reopen"
    _record(db, actor, f"issue.{verb}", issue, via, {})
    label = project_label(db, proj)
    _event(db, actor, proj, issue, "closed" if verb == "close" else "reopened", label)
    return _out(db, issue, label)


def close_issue(db: Session, *, actor: Actor, project: str, number: int) -> IssueOut:
    """Close an open issue (``IllegalTransition`` if it is closed already)."""
    return _set_state(db, actor, project, number, IssueState.CLOSED)


def reopen_issue(db: Session, *, actor: Actor, project: str, number: int) -> IssueOut:
    """Reopen a closed issue (``IllegalTransition`` if it is open)."""
    return _set_state(db, actor, project, number, IssueState.OPEN)


# -- comments -----------------------------------------------------------------------------
def create_comment(
    db: Session, *, actor: Actor, project: str, number: int, body: CommentCreate
) -> CommentOut:
    """Comment on issue ``#number``."""
    proj, via = access_project(db, actor, project, need=Perm.PROJECT_WRITE)
    issue = _issue(db, proj, number)
    comment = add_comment(
        db,
        actor,
        project_id=proj.id,
        via=via,
        body=body.body,
        issue_id=issue.id,
        details={"issue": issue.number},
    )
    _event(db, actor, proj, issue, "commented", project_label(db, proj))
    return _comment_out(db, comment)


def list_comments(
    db: Session, *, actor: Actor, project: str, number: int, page: PageParams
) -> Page[CommentOut]:
    """Comments of issue ``#number``, oldest first (a conversation reads top-down)."""
    proj, _ = access_project(db, actor, project)
    issue = _issue(db, proj, number)
    stmt = (
        select(Comment).where(Comment.issue_id == issue.id).order_by(Comment.created_at, Comment.id)
    )
    return paginate(db, stmt, page, lambda c: _comment_out(db, c))


def edit_comment(
    db: Session, *, actor: Actor, project: str, comment_id: uuid.UUID, body: CommentCreate
) -> CommentOut:
    """Replace a comment's text (issue or merge request comment of this project).

    Its author may edit it with read access; anyone else needs ``project:write``.
    """
    from platform_sdk.git.models import MergeRequest

    proj, _ = access_project(db, actor, project)
    comment = db.get(Comment, comment_id)
    mr_number: int | None = None
    if comment is not None and comment.issue_id is not None:
        owner_id = db.scalar(select(Issue.project_id).where(Issue.id == comment.issue_id))
    elif comment is not None:
        row = db.execute(
            select(MergeRequest.project_id, MergeRequest.number).where(
                MergeRequest.id == comment.merge_request_id
            )
        ).one_or_none()
        owner_id, mr_number = (row[0], row[1]) if row else (None, None)
    if comment is None or owner_id != proj.id:
        raise NotFound(f"comment {comment_id} not found")
    via = None
    if comment.author_id != actor.user_id:
        allowed, via = rbac.check(db, actor, Perm.PROJECT_WRITE, proj.id)
        if not allowed:
            raise PermissionDenied(
                f"{actor.username} may not edit another user's comment",
                details={"permission": Perm.PROJECT_WRITE.value},
            )
    comment.body = body.body
    comment.edited_at = utcnow()
    db.flush()
    audit.record(
        db,
        actor,
        "comment.edit",
        target_type="comment",
        target_id=comment.id,
        project_id=proj.id,
        via=via,
    )
    return _comment_out(db, comment, mr_number=mr_number)
