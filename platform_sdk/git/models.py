"""Tables of merge requests and their reviews.

Merge requests are numbered per project from ``projects.next_mr_number`` (see
:mod:`platform_sdk.projects.models`). At most one *open* merge request may exist for the same
``(project_id, source_branch, target_branch)`` — partial unique index
``uq_merge_requests_open_branches`` — so opening a duplicate is an ``IntegrityError`` the
service turns into ``AlreadyExists``. Comments on merge requests live in ``comments``.

Commit SHAs are ``String(64)`` so SHA-256 repositories fit as well as SHA-1 ones.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from platform_sdk.core.db import Base, IdMixin, TimestampMixin, partial_unique
from platform_sdk.core.statemachine import StatusEnum
from platform_sdk.core.types import status_enum, utcnow

__all__ = [
    "LfsObject",
    "MergeRequest",
    "MergeRequestState",
    "MergeStrategy",
    "MrReview",
    "Push",
    "ReviewVerdict",
]


class MergeRequestState(StatusEnum):
    """Open until merged (terminal) or closed; a closed merge request can be reopened."""

    OPEN = "open"
    MERGED = "merged"
    CLOSED = "closed"


MergeRequestState.allow(
    {
        MergeRequestState.OPEN: {MergeRequestState.MERGED, MergeRequestState.CLOSED},
        MergeRequestState.CLOSED: {MergeRequestState.OPEN},
    }
)


class MergeStrategy(enum.StrEnum):
    """How the source branch went into the target: merge commit, fast-forward or squash."""

    MERGE = "merge"
    FAST_FORWARD = "fast_forward"
    SQUASH = "squash"


class ReviewVerdict(enum.StrEnum):
    """What a review says about the merge request at the reviewed commit."""

    APPROVED = "approved"
    CHANGES_REQUESTED = "changes_requested"
    COMMENTED = "commented"


class MergeRequest(IdMixin, TimestampMixin, Base):
    """A request to merge ``source_branch`` into ``target_branch`` of the same project."""

    __tablename__ = "merge_requests"
    __table_args__ = (
        UniqueConstraint("project_id", "number"),
        partial_unique(
            "uq_merge_requests_open_branches",
            "project_id",
            "source_branch",
            "target_branch",
            where="state = 'open'",
        ),
        Index("ix_merge_requests_project_state", "project_id", "state"),
        CheckConstraint("number >= 1", name="number_positive"),
        CheckConstraint("source_branch <> target_branch", name="distinct_branches"),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    number: Mapped[int]
    title: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text, default="")
    source_branch: Mapped[str] = mapped_column(String(255))
    target_branch: Mapped[str] = mapped_column(String(255))
    author_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), index=True
    )
    state: Mapped[MergeRequestState] = mapped_column(
        status_enum(MergeRequestState), default=MergeRequestState.OPEN
    )
    merge_strategy: Mapped[MergeStrategy | None] = mapped_column(status_enum(MergeStrategy))
    source_sha: Mapped[str | None] = mapped_column(String(64))
    target_sha: Mapped[str | None] = mapped_column(String(64))
    merge_commit_sha: Mapped[str | None] = mapped_column(String(64))
    merged_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    merged_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]


class MrReview(IdMixin, Base):
    """One reviewer's verdict on a merge request at ``commit_sha`` (its source head then)."""

    __tablename__ = "mr_reviews"

    merge_request_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("merge_requests.id", ondelete="CASCADE"), index=True
    )
    reviewer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), index=True
    )
    verdict: Mapped[ReviewVerdict] = mapped_column(status_enum(ReviewVerdict))
    body: Mapped[str] = mapped_column(Text, default="")
    commit_sha: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Push(IdMixin, Base):
    """One ref update accepted by ``git-receive-pack`` (a push of three branches is three rows).

    ``before``/``after`` are the old and new object ids (all zeros for a created or deleted
    ref); ``forced`` marks a non-fast-forward update.
    """

    __tablename__ = "pushes"
    __table_args__ = (Index("ix_pushes_project_created", "project_id", "created_at"),)

    project_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    pusher_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    ref: Mapped[str] = mapped_column(String(1024))
    before: Mapped[str] = mapped_column(String(64))
    after: Mapped[str] = mapped_column(String(64))
    forced: Mapped[bool] = mapped_column(default=False)
    commit_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LfsObject(Base):
    """A Git LFS object a project holds; its bytes live in the object store by ``oid``."""

    __tablename__ = "lfs_objects"

    project_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    oid: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
