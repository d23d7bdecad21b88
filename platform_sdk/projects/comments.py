"""Writing a comment: one row and its audit entry, for issues and merge requests alike.

Not a service: callers (the issues and merge-request services) authorize first and emit their
own event; this is the part both share.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from platform_sdk.core import audit
from platform_sdk.core.access import Actor
from platform_sdk.projects.models import Comment

__all__ = ["add_comment"]


def add_comment(
    db: Session,
    actor: Actor,
    *,
    project_id: uuid.UUID,
    via: uuid.UUID | None,
    body: str,
    issue_id: uuid.UUID | None = None,
    merge_request_id: uuid.UUID | None = None,
    details: dict[str, Any],
) -> Comment:
    """Insert the comment (exactly one parent) and audit ``comment.create``."""
    comment = Comment(
        issue_id=issue_id, merge_request_id=merge_request_id, author_id=actor.user_id, body=body
    )
    with db.begin_nested():
        db.add(comment)
        db.flush()
    audit.record(
        db,
        actor,
        "comment.create",
        target_type="comment",
        target_id=comment.id,
        project_id=project_id,
        via=via,
        details=details,
    )
    return comment
