"""Pydantic schemas of issues and comments (one per resource, shared by services, HTTP, SDK).

Labels are free strings — no label catalogue — but validated so they stay usable as filters
and in comma-separated CLI output: 1-50 characters, no commas, no control characters, at most
20 per issue, duplicates dropped (first spelling kept, order preserved).

``IssueUpdate`` distinguishes "not sent" from "sent as null": only the fields present in the
body change (``model_fields_set``), so ``{"assignee": null}`` unassigns while ``{}`` changes
nothing.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from platform_sdk.projects.models import IssueState

__all__ = [
    "MAX_LABELS",
    "CommentCreate",
    "CommentOut",
    "IssueCreate",
    "IssueOut",
    "IssueState",
    "IssueUpdate",
    "Labels",
    "clean_labels",
]

MAX_LABELS = 20


def clean_labels(labels: list[str]) -> list[str]:
    """Validated, stripped, de-duplicated labels (ValueError naming the bad one)."""
    out: list[str] = []
    for raw in labels:
        label = raw.strip()
        if not 1 <= len(label) <= 50:
            raise ValueError(f"label {raw!r} must be 1-50 characters")
        if "," in label or any(ord(c) < 32 or ord(c) == 127 for c in label):
            raise ValueError(f"label {raw!r} must not contain commas or control characters")
        if label not in out:
            out.append(label)
    if len(out) > MAX_LABELS:
        raise ValueError(f"at most {MAX_LABELS} labels per issue")
    return out


Labels = Annotated[list[str], AfterValidator(clean_labels)]
Title = Annotated[str, Field(min_length=1, max_length=255)]
Body = Annotated[str, Field(max_length=100_000)]
Username = Annotated[str, Field(min_length=1, max_length=64)]


class IssueOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    project: str
    number: int
    title: str
    body: str
    state: IssueState
    labels: list[str]
    author: str
    assignee: str | None
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None


class IssueCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    body: Body = ""
    labels: Labels = Field(default_factory=list)
    assignee: Username | None = None


class IssueUpdate(BaseModel):
    """Only the fields sent change; ``assignee: null`` unassigns."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    body: Body | None = None
    labels: Labels | None = None
    assignee: Username | None = None


class CommentOut(BaseModel):
    """A comment; exactly one of ``issue_number`` / ``merge_request_number`` is set."""

    id: uuid.UUID
    author: str
    body: str
    created_at: datetime
    edited_at: datetime | None
    issue_number: int | None = None
    merge_request_number: int | None = None


class CommentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: Annotated[str, Field(min_length=1, max_length=100_000)]
