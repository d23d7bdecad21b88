"""``/api/users``: list, create, read, update, deactivate and reactivate users and agents.

Who may do what is decided by :mod:`platform_sdk.identity.services.users`: a user one may not
see answers 404, a change one may not make answers 403.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from platform_sdk.core.pagination import Page
from platform_sdk.identity.schemas import UserCreate, UserOut, UserUpdate
from platform_sdk.identity.services import users
from platform_sdk.server.deps import ActorDep, PageDep, PlatformDep, call

__all__ = ["router"]

router = APIRouter(prefix="/api/users", tags=["users"])


@router.get("", summary="Users by username (without admin:users: yourself and your agents)")
def list_users(
    actor: ActorDep,
    plat: PlatformDep,
    page: PageDep,
    kind: Annotated[Literal["human", "agent"] | None, Query(description="Only this kind")] = None,
    active: Annotated[bool | None, Query(description="Only (in)active users")] = None,
    q: Annotated[
        str | None,
        Query(max_length=200, description="Search username, display name and e-mail"),
    ] = None,
) -> Page[UserOut]:
    return call(plat, users.list_users, actor=actor, page=page, kind=kind, active=active, q=q)


@router.post("", status_code=201, summary="Create a user, or an agent you own")
def create_user(body: UserCreate, actor: ActorDep, plat: PlatformDep) -> UserOut:
    return call(plat, users.create_user, actor=actor, body=body)


@router.get("/{username}", summary="One user")
def get_user(username: str, actor: ActorDep, plat: PlatformDep) -> UserOut:
    return call(plat, users.get_user, actor=actor, username=username)


@router.patch(
    "/{username}",
    summary="Change e-mail, display name or password (your own needs current_password)",
)
def update_user(username: str, body: UserUpdate, actor: ActorDep, plat: PlatformDep) -> UserOut:
    return call(plat, users.update_user, actor=actor, username=username, body=body)


@router.post(
    "/{username}/deactivate",
    summary="Deactivate a user: its sessions and tokens are revoked at once",
)
def deactivate_user(username: str, actor: ActorDep, plat: PlatformDep) -> UserOut:
    return call(plat, users.deactivate_user, actor=actor, username=username)


@router.post("/{username}/activate", summary="Reactivate a user (old credentials stay revoked)")
def activate_user(username: str, actor: ActorDep, plat: PlatformDep) -> UserOut:
    return call(plat, users.activate_user, actor=actor, username=username)
