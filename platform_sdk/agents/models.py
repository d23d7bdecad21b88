"""Tables of agent sessions and their transcripts.

A session is an agent user working on a project on behalf of the user who started it (the
agent acts through a delegation from ``started_by_id``). Its transcript is ``agent_messages``,
ordered by ``seq``, unique per session: the writer allocates ``max(seq) + 1`` and retries on
the unique violation.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from platform_sdk.core.db import Base, IdMixin, TimestampMixin
from platform_sdk.core.statemachine import StatusEnum
from platform_sdk.core.types import status_enum, utcnow

__all__ = ["AgentMessage", "AgentSession", "AgentSessionStatus", "MessageRole"]


class AgentSessionStatus(StatusEnum):
    """Queued, running, or waiting for a human; completed, failed and cancelled are terminal."""

    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


_S = AgentSessionStatus
AgentSessionStatus.allow(
    {
        _S.PENDING: {_S.RUNNING, _S.CANCELLED, _S.FAILED},
        _S.RUNNING: {_S.WAITING, _S.COMPLETED, _S.FAILED, _S.CANCELLED},
        _S.WAITING: {_S.RUNNING, _S.COMPLETED, _S.FAILED, _S.CANCELLED},
    }
)


class MessageRole(enum.StrEnum):
    """Who a transcript message is from."""

    USER = "user"
    ASSISTANT = "assistant"
    SYSTEM = "system"
    TOOL = "tool"


class AgentSession(IdMixin, TimestampMixin, Base):
    """An agent at work on a project: its goal, runtime, workspace, outcome and usage.

    ``runtime`` is ``local`` or ``kubernetes``; ``workspace_ref`` is the workspace directory
    or pod name; ``branch`` is the git branch the agent pushes to. ``usage`` holds counters
    such as ``{"input_tokens": …, "output_tokens": …, "cost_usd": …}``.
    """

    __tablename__ = "agent_sessions"
    __table_args__ = (Index("ix_agent_sessions_status", "status"),)

    project_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    agent_user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), index=True
    )
    started_by_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), index=True
    )
    title: Mapped[str] = mapped_column(String(255))
    prompt: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[AgentSessionStatus] = mapped_column(
        status_enum(AgentSessionStatus), default=AgentSessionStatus.PENDING
    )
    runtime: Mapped[str] = mapped_column(String(32), default="local")
    workspace_ref: Mapped[str | None] = mapped_column(String(1024))
    branch: Mapped[str | None] = mapped_column(String(255))
    exit_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    usage: Mapped[dict[str, Any]] = mapped_column(default=dict)


class AgentMessage(IdMixin, Base):
    """One message of a session's transcript; ``data`` carries tool calls and results."""

    __tablename__ = "agent_messages"
    __table_args__ = (
        UniqueConstraint("session_id", "seq"),
        CheckConstraint("seq >= 1", name="seq_positive"),
    )

    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("agent_sessions.id", ondelete="CASCADE")
    )
    seq: Mapped[int]
    role: Mapped[MessageRole] = mapped_column(status_enum(MessageRole))
    content: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
