"""Pydantic schemas of merge requests, their reviews, commits and diffs.

Branch names in bodies are checked loosely here (length, no whitespace or control
characters); the service checks they exist in the repository, which is the real rule.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from platform_sdk.git.models import MergeRequestState, MergeStrategy, ReviewVerdict

__all__ = [
    "MergeBody",
    "MergeRequestCreate",
    "MergeRequestOut",
    "MergeRequestState",
    "MergeRequestUpdate",
    "MergeStrategy",
    "MrCommitOut",
    "MrDiffFile",
    "MrDiffOut",
    "ReviewCreate",
    "ReviewOut",
    "ReviewVerdict",
]

Branch = Annotated[
    str, Field(min_length=1, max_length=255, pattern=r"^[^\s\x00-\x1f\x7f~^:?*\[\\]+$")
]
Title = Annotated[str, Field(min_length=1, max_length=255)]
Body = Annotated[str, Field(max_length=100_000)]
Sha = Annotated[str, Field(pattern=r"^[0-9a-f]{40}([0-9a-f]{24})?$")]


class MergeRequestOut(BaseModel):
    id: uuid.UUID
    project: str
    number: int
    title: str
    body: str
    source_branch: str
    target_branch: str
    author: str
    state: MergeRequestState
    source_sha: str | None
    target_sha: str | None
    merge_strategy: MergeStrategy | None
    merge_commit_sha: str | None
    merged_by: str | None
    merged_at: datetime | None
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class MergeRequestCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source_branch: Branch
    target_branch: Branch
    title: Title
    body: Body = ""


class MergeRequestUpdate(BaseModel):
    """Only the fields sent change."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    body: Body | None = None


class MergeBody(BaseModel):
    """How to merge; ``expected_target_sha`` refuses if the target is no longer there."""

    model_config = ConfigDict(extra="forbid")

    strategy: MergeStrategy = MergeStrategy.MERGE
    expected_target_sha: Sha | None = None
    message: Annotated[str | None, Field(max_length=100_000)] = None


class ReviewOut(BaseModel):
    id: uuid.UUID
    merge_request_number: int
    reviewer: str
    verdict: ReviewVerdict
    body: str
    commit_sha: str | None
    created_at: datetime


class ReviewCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verdict: ReviewVerdict
    body: Body = ""


class MrCommitOut(BaseModel):
    sha: str
    title: str
    author_name: str
    author_email: str
    authored_at: datetime


class MrDiffFile(BaseModel):
    path: str
    status: str
    """git's letter: A added, M modified, D deleted, T type changed."""
    additions: int | None
    """None for binary files."""
    deletions: int | None


class MrDiffOut(BaseModel):
    base_sha: str
    head_sha: str
    files: list[MrDiffFile]
    patch: str
    truncated: bool
