"""Reviews and comments on merge requests (split from :mod:`.merge_requests` for size).

Both need ``project:write`` to add and ``project:read`` to list; both are listed oldest
first, as a conversation reads. An author cannot approve their own request
(``ValidationFailed``) — an approval is a second pair of eyes — but may comment or request
changes. A review records the source head it looked at (``commit_sha``); reviews are only
taken while the request is open. Comments live in the shared ``comments`` table and are
edited through :func:`platform_sdk.projects.services.issues.edit_comment`.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from platform_sdk.core.access import Actor
from platform_sdk.core.pagination import Page, PageParams, paginate
from platform_sdk.core.runtime import runtime_of
from platform_sdk.errors import ValidationFailed
from platform_sdk.git import merge as gitmerge
from platform_sdk.git.models import MergeRequestState, MrReview, ReviewVerdict
from platform_sdk.git.mr_schemas import ReviewCreate, ReviewOut
from platform_sdk.git.repos import repo_path
from platform_sdk.git.services.merge_requests import _event, _mr, _record, _write
from platform_sdk.identity.grants import username_of
from platform_sdk.projects.access import access_project
from platform_sdk.projects.comments import add_comment
from platform_sdk.projects.issue_schemas import CommentCreate, CommentOut
from platform_sdk.projects.models import Comment
from platform_sdk.projects.services.issues import _comment_out

__all__ = ["create_mr_comment", "create_review", "list_mr_comments", "list_reviews"]


def _review_out(db: Session, review: MrReview, number: int) -> ReviewOut:
    return ReviewOut(
        id=review.id,
        merge_request_number=number,
        reviewer=username_of(db, review.reviewer_id) or "?",
        verdict=review.verdict,
        body=review.body,
        commit_sha=review.commit_sha,
        created_at=review.created_at,
    )


def create_review(
    db: Session, *, actor: Actor, project: str, number: int, body: ReviewCreate
) -> ReviewOut:
    """Approve, request changes or comment, at the source head (open requests only)."""
    proj, via, mr, label = _write(db, actor, project, number)
    if mr.state != MergeRequestState.OPEN:
        raise ValidationFailed(f"merge request !{number} is {mr.state.value}; reviews are closed")
    if body.verdict == ReviewVerdict.APPROVED and mr.author_id == actor.user_id:
        raise ValidationFailed("authors cannot approve their own merge request")
    git_dir = repo_path(runtime_of(db).settings, *label.split("/", 1))
    head = gitmerge.branch_sha(git_dir, mr.source_branch) if git_dir.is_dir() else None
    review = MrReview(
        merge_request_id=mr.id,
        reviewer_id=actor.user_id,
        verdict=body.verdict,
        body=body.body,
        commit_sha=head or mr.source_sha,
    )
    with db.begin_nested():
        db.add(review)
        db.flush()
    _record(db, actor, "merge_request.review", mr, via, {"verdict": body.verdict.value})
    _event(db, actor, proj, mr, "reviewed", label, verdict=body.verdict.value)
    return _review_out(db, review, number)


def list_reviews(
    db: Session, *, actor: Actor, project: str, number: int, page: PageParams
) -> Page[ReviewOut]:
    """Reviews of ``!number``, oldest first."""
    proj, _ = access_project(db, actor, project)
    mr = _mr(db, proj, number)
    stmt = (
        select(MrReview)
        .where(MrReview.merge_request_id == mr.id)
        .order_by(MrReview.created_at, MrReview.id)
    )
    return paginate(db, stmt, page, lambda r: _review_out(db, r, number))


def create_mr_comment(
    db: Session, *, actor: Actor, project: str, number: int, body: CommentCreate
) -> CommentOut:
    """Comment on ``!number`` (edit through the issues service's ``edit_comment``)."""
    proj, via, mr, label = _write(db, actor, project, number)
    comment = add_comment(
        db,
        actor,
        project_id=proj.id,
        via=via,
        body=body.body,
        merge_request_id=mr.id,
        details={"merge_request": number},
    )
    _event(db, actor, proj, mr, "commented", label)
    return _comment_out(db, comment, mr_number=number)


def list_mr_comments(
    db: Session, *, actor: Actor, project: str, number: int, page: PageParams
) -> Page[CommentOut]:
    """Comments of ``!number``, oldest first."""
    proj, _ = access_project(db, actor, project)
    mr = _mr(db, proj, number)
    stmt = (
        select(Comment)
        .where(Comment.merge_request_id == mr.id)
        .order_by(Comment.created_at, Comment.id)
    )
    return paginate(db, stmt, page, lambda c: _comment_out(db, c, mr_number=number))
