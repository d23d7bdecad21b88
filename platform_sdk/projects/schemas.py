"""Pydantic schemas of projects."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from platform_sdk.projects.models import Visibility

__all__ = ["BranchName", "ProjectCreate", "ProjectName", "ProjectOut", "ProjectUpdate"]

NAME_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,98}[A-Za-z0-9])?$")


def _name(value: str) -> str:
    if not NAME_RE.fullmatch(value) or value.endswith(".git"):
        raise ValueError(
            "must be 1-100 letters, digits, '.', '_' or '-', starting and ending with a "
            "letter or digit, and not ending in .git"
        )
    return value


ProjectName = Annotated[str, AfterValidator(_name)]

_BAD_BRANCH = re.compile(r"^[-./]|[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//|/\.|\.lock$|/$|\.$")
_BAD_PATTERN = re.compile(r"^-|[\x00-\x20\x7f~^:\\]|\.\.|@\{")


def _branch(value: str) -> str:
    if not value or len(value) > 255 or value == "@" or _BAD_BRANCH.search(value):
        raise ValueError(f"{value[:80]!r} is not a valid branch name")
    return value


def _pattern(value: str) -> str:
    value = value.strip().removeprefix("refs/heads/")
    if not value or len(value) > 255 or _BAD_PATTERN.search(value):
        raise ValueError(f"{value[:80]!r} is not a valid branch name or fnmatch pattern")
    return value


BranchName = Annotated[str, AfterValidator(_branch)]
"""A name ``git check-ref-format --branch`` would accept (and no leading ``-``)."""
BranchPattern = Annotated[str, AfterValidator(_pattern)]
"""A branch name or an fnmatch pattern over names (``release/*``)."""


class ProjectOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    owner: str
    name: str
    full_name: str
    description: str
    visibility: Visibility
    default_branch: str
    protected_branches: list[str] = []
    created_at: datetime
    updated_at: datetime


class ProjectCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ProjectName
    description: Annotated[str, Field(max_length=10_000)] = ""
    visibility: Visibility = Visibility.PRIVATE
    default_branch: BranchName = "main"


class ProjectUpdate(BaseModel):
    """What may change after creation (fields left out stay as they are). No renames: the
    name is the repository's path and every clone's remote URL."""

    model_config = ConfigDict(extra="forbid")

    description: Annotated[str | None, Field(max_length=10_000)] = None
    visibility: Visibility | None = None
    default_branch: BranchName | None = None
    protected_branches: Annotated[list[BranchPattern], Field(max_length=100)] | None = None
