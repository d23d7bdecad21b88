"""Tables of identity and RBAC.

Role bindings and delegations are either global (``project_id`` NULL) or per project. Their
uniqueness must hold with that NULL, which neither database gives from a plain UNIQUE (NULLs
are distinct), so each is enforced by a pair of partial unique indexes: one over the global
rows, one over the project rows. Both SQLite and PostgreSQL support partial indexes.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from platform_sdk.core.db import Base, IdMixin, TimestampMixin, partial_unique
from platform_sdk.core.types import status_enum, utcnow

__all__ = [
    "ApiToken",
    "AuthSession",
    "Delegation",
    "Permission",
    "Role",
    "RolePermission",
    "User",
    "UserKind",
    "UserRole",
]


class UserKind(enum.StrEnum):
    HUMAN = "human"
    AGENT = "agent"


class User(IdMixin, TimestampMixin, Base):
    """A human or an agent. Agents have an owner and usually no password."""

    __tablename__ = "users"
    __table_args__ = (
        partial_unique("uq_users_email", "email", where="email IS NOT NULL"),
        CheckConstraint("length(username) BETWEEN 1 AND 64", name="username_length"),
    )

    username: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    display_name: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[UserKind] = mapped_column(status_enum(UserKind), default=UserKind.HUMAN)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    last_login_at: Mapped[datetime | None]


class Permission(Base):
    """One entry of the permission catalogue (``project:read`` …)."""

    __tablename__ = "permissions"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    description: Mapped[str] = mapped_column(Text, default="")


class Role(IdMixin, TimestampMixin, Base):
    """A named set of permissions. System roles are created by ``platform init``."""

    __tablename__ = "roles"

    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    is_system: Mapped[bool] = mapped_column(default=False)


class RolePermission(Base):
    __tablename__ = "role_permissions"

    role_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True
    )
    permission: Mapped[str] = mapped_column(
        ForeignKey("permissions.name", ondelete="CASCADE"), primary_key=True, index=True
    )


class UserRole(IdMixin, Base):
    """A role binding: global when ``project_id`` is NULL, else for that project only."""

    __tablename__ = "user_roles"
    __table_args__ = (
        partial_unique("uq_user_roles_global", "user_id", "role_id", where="project_id IS NULL"),
        partial_unique(
            "uq_user_roles_project",
            "user_id",
            "role_id",
            "project_id",
            where="project_id IS NOT NULL",
        ),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    role_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("roles.id", ondelete="CASCADE"), index=True
    )
    project_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    granted_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Delegation(IdMixin, Base):
    """A permission the grantor holds, lent to a grantee (often an agent) for a while."""

    __tablename__ = "delegations"
    __table_args__ = (
        CheckConstraint("grantor_id <> grantee_id", name="no_self_delegation"),
        partial_unique(
            "uq_delegations_global",
            "grantor_id",
            "grantee_id",
            "permission",
            where="project_id IS NULL AND revoked_at IS NULL",
        ),
        partial_unique(
            "uq_delegations_project",
            "grantor_id",
            "grantee_id",
            "permission",
            "project_id",
            where="project_id IS NOT NULL AND revoked_at IS NULL",
        ),
    )

    grantor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    grantee_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    permission: Mapped[str] = mapped_column(
        ForeignKey("permissions.name", ondelete="CASCADE"), index=True
    )
    project_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    reason: Mapped[str] = mapped_column(Text, default="")
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuthSession(IdMixin, Base):
    """A login session. Only the SHA-256 of its token is stored."""

    __tablename__ = "auth_sessions"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    client_addr: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(512))


class ApiToken(IdMixin, Base):
    """A ``plat_…`` token: shown once, stored as SHA-256, optionally scoped and bounded."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        partial_unique("uq_api_tokens_name", "user_id", "name", where="revoked_at IS NULL"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str] | None]
    project_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
