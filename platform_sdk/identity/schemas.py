"""Pydantic schemas of identity: what services return, HTTP bodies, SDK parsing — one copy."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from platform_sdk.core.access import Perm
from platform_sdk.identity.models import UserKind

__all__ = [
    "ApiTokenCreate",
    "ApiTokenCreated",
    "ApiTokenOut",
    "AuditOut",
    "BindingCreate",
    "BindingOut",
    "DelegationCreate",
    "DelegationOut",
    "LoginRequest",
    "MeOut",
    "PermissionName",
    "RoleCreate",
    "RoleOut",
    "RoleUpdate",
    "SessionOut",
    "UserCreate",
    "UserOut",
    "UserUpdate",
    "Username",
]

USERNAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ROLE_RE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")


def _username(value: str) -> str:
    if not USERNAME_RE.fullmatch(value):
        raise ValueError(
            "must be 1-64 lowercase letters, digits, '.', '_' or '-', "
            "starting and ending with a letter or digit"
        )
    return value


def _email(value: str | None) -> str | None:
    if value is not None and (len(value) > 320 or not EMAIL_RE.fullmatch(value)):
        raise ValueError("is not an e-mail address")
    return value


def _permission(value: str) -> str:
    try:
        return Perm(value).value
    except ValueError:
        known = ", ".join(p.value for p in Perm)
        raise ValueError(f"unknown permission {value!r}; known: {known}") from None


def _role_name(value: str) -> str:
    if not ROLE_RE.fullmatch(value):
        raise ValueError(
            "must be 1-64 lowercase letters, digits, '_' or '-', starting with a letter"
        )
    return value


Username = Annotated[str, AfterValidator(_username)]
Email = Annotated[str | None, AfterValidator(_email)]
PermissionName = Annotated[str, AfterValidator(_permission)]
RoleName = Annotated[str, AfterValidator(_role_name)]
Password = Annotated[str, Field(min_length=8, max_length=1024)]


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# -- users and sessions ---------------------------------------------------------------------
class UserOut(_Out):
    id: uuid.UUID
    username: str
    email: str | None
    display_name: str | None
    kind: UserKind
    is_active: bool
    owner: str | None = None
    created_at: datetime
    last_login_at: datetime | None


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: Username
    email: Email = None
    display_name: Annotated[str | None, Field(max_length=200)] = None
    kind: UserKind = UserKind.HUMAN
    password: Password | None = None


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: Email = None
    display_name: Annotated[str | None, Field(max_length=200)] = None
    password: Password | None = None
    current_password: str | None = None


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class SessionOut(BaseModel):
    user: UserOut
    expires_at: datetime
    idle_expires_at: datetime


class MeOut(BaseModel):
    user: UserOut
    via_token: uuid.UUID | None
    scopes: list[str] | None
    project_boundary: uuid.UUID | None
    permissions: list[str]


# -- API tokens -----------------------------------------------------------------------------
class ApiTokenOut(_Out):
    id: uuid.UUID
    name: str
    prefix: str
    user: str
    scopes: list[str] | None
    project_id: uuid.UUID | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiTokenCreated(ApiTokenOut):
    """Returned once, at creation: ``token`` is never shown again."""

    token: str


class ApiTokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=100)]
    user: Username | None = None
    expires_at: datetime | None = None
    scopes: list[PermissionName] | None = None
    project: str | None = None


# -- roles, bindings, delegations -----------------------------------------------------------
class RoleOut(_Out):
    id: uuid.UUID
    name: str
    description: str
    is_system: bool
    permissions: list[str]


class RoleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: RoleName
    description: Annotated[str, Field(max_length=2000)] = ""
    permissions: list[PermissionName] = []


class RoleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: Annotated[str | None, Field(max_length=2000)] = None
    permissions: list[PermissionName] | None = None


class BindingOut(_Out):
    id: uuid.UUID
    user: str
    role: str
    project_id: uuid.UUID | None
    project: str | None
    granted_by: str | None
    created_at: datetime


class BindingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: Username
    role: RoleName
    project: str | None = None


class DelegationOut(_Out):
    id: uuid.UUID
    grantor: str
    grantee: str
    permission: str
    project_id: uuid.UUID | None
    project: str | None
    reason: str
    expires_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime
    active: bool


class DelegationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    grantee: Username
    permission: PermissionName
    project: str | None = None
    expires_at: datetime | None = None
    reason: Annotated[str, Field(max_length=2000)] = ""


# -- audit ----------------------------------------------------------------------------------
class AuditOut(_Out):
    id: uuid.UUID
    at: datetime
    actor_name: str
    actor_id: uuid.UUID | None
    token_id: uuid.UUID | None
    via_delegation_id: uuid.UUID | None
    action: str
    target_type: str
    target_id: str | None
    project_id: uuid.UUID | None
    client_addr: str | None
    details: dict[str, object]
