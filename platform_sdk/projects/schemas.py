"""Pydantic schemas of projects."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from platform_sdk.projects.models import Visibility

__all__ = ["ProjectCreate", "ProjectName", "ProjectOut"]

NAME_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,98}[A-Za-z0-9])?$")


def _name(value: str) -> str:
    if not NAME_RE.fullmatch(value) or value.endswith(".git"):
        raise ValueError(
            "must be 1-100 letters, digits, '.', '_' or '-', starting and ending with a "
            "letter or digit, and not ending in .git"
        )
    return value


ProjectName = Annotated[str, AfterValidator(_name)]


class ProjectOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    owner: str
    name: str
    full_name: str
    description: str
    visibility: Visibility
    default_branch: str
    created_at: datetime
    updated_at: datetime


class ProjectCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ProjectName
    description: Annotated[str, Field(max_length=10_000)] = ""
    visibility: Visibility = Visibility.PRIVATE
    default_branch: Annotated[str, Field(min_length=1, max_length=255)] = "main"
