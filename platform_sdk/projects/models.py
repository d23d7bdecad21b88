"""Tables of projects, issues and comments.

A project is soft-deleted: ``deleted_at`` is set and its name is freed, so the unique
``(owner_id, name)`` holds over live rows only (partial unique index ``uq_projects_owner_name``).

Issue, merge request and pipeline numbers are allocated per project from the counters on the
project row, atomically, in the transaction that inserts the child::

    UPDATE projects SET next_issue_number = next_issue_number + 1
    WHERE id = :id RETURNING next_issue_number - 1

A comment belongs to exactly one issue or one merge request (CHECK ``one_parent``).

Authorship (``owner_id``, ``author_id``) is ``ON DELETE RESTRICT``: users who wrote anything
are deactivated, not deleted. Optional references to users (``assignee_id``) are ``SET NULL``.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from platform_sdk.core.db import Base, IdMixin, TimestampMixin, partial_unique
from platform_sdk.core.statemachine import StatusEnum
from platform_sdk.core.types import status_enum, utcnow

__all__ = ["Comment", "Issue", "IssueState", "Project", "Visibility"]


class Visibility(enum.StrEnum):
    """Who may read a project besides its members: nobody, signed-in users, or anyone."""

    PRIVATE = "private"
    INTERNAL = "internal"
    PUBLIC = "public"


class IssueState(StatusEnum):
    """Open or closed. Cyclic on purpose: a closed issue can be reopened, so none is terminal."""

    OPEN = "open"
    CLOSED = "closed"


IssueState.allow({IssueState.OPEN: {IssueState.CLOSED}, IssueState.CLOSED: {IssueState.OPEN}})


class Project(IdMixin, TimestampMixin, Base):
    """A git repository with its issues, merge requests, pipelines and settings."""

    __tablename__ = "projects"
    __table_args__ = (
        partial_unique("uq_projects_owner_name", "owner_id", "name", where="deleted_at IS NULL"),
        CheckConstraint("length(name) BETWEEN 1 AND 100", name="name_length"),
        CheckConstraint(
            "next_issue_number >= 1 AND next_mr_number >= 1 AND next_pipeline_number >= 1",
            name="counters_positive",
        ),
    )

    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    visibility: Mapped[Visibility] = mapped_column(
        status_enum(Visibility), default=Visibility.PRIVATE
    )
    default_branch: Mapped[str] = mapped_column(String(255), default="main")
    protected_branches: Mapped[list[str]] = mapped_column(default=list)
    """Branch names or fnmatch patterns that refuse force-pushes and deletion."""
    deleted_at: Mapped[datetime | None]
    next_issue_number: Mapped[int] = mapped_column(default=1)
    next_mr_number: Mapped[int] = mapped_column(default=1)
    next_pipeline_number: Mapped[int] = mapped_column(default=1)


class Issue(IdMixin, TimestampMixin, Base):
    """An issue, numbered per project (``#12``)."""

    __tablename__ = "issues"
    __table_args__ = (
        UniqueConstraint("project_id", "number"),
        Index("ix_issues_project_state", "project_id", "state"),
        CheckConstraint("number >= 1", name="number_positive"),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    number: Mapped[int]
    title: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[IssueState] = mapped_column(status_enum(IssueState), default=IssueState.OPEN)
    labels: Mapped[list[str]] = mapped_column(default=list)
    author_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), index=True
    )
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    closed_at: Mapped[datetime | None]


class Comment(IdMixin, Base):
    """A comment on an issue or on a merge request (exactly one of the two)."""

    __tablename__ = "comments"
    __table_args__ = (
        CheckConstraint(
            "(issue_id IS NULL) <> (merge_request_id IS NULL)",
            name="one_parent",
        ),
    )

    issue_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("issues.id", ondelete="CASCADE"), index=True
    )
    merge_request_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("merge_requests.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), index=True
    )
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    edited_at: Mapped[datetime | None]
