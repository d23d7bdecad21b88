"""Pydantic schemas of pushes and branch protection: service return values, HTTP bodies, SDK."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["PushOut", "RefUpdate"]


class RefUpdate(BaseModel):
    """One ref update as ``git receive-pack`` reports it (``before``/``after`` may be zeros).

    ``forced`` and ``commits`` are computed from the repository when left ``None``.
    """

    ref: str = Field(max_length=1024)
    before: str = Field(max_length=64)
    after: str = Field(max_length=64)
    forced: bool | None = None
    commits: int | None = None


class PushOut(BaseModel):
    """One recorded ref update of a push."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    project_id: uuid.UUID
    pusher_id: uuid.UUID | None
    ref: str
    before: str
    after: str
    forced: bool
    commit_count: int
    created_at: datetime
