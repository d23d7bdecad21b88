"""``/api/permissions`` (the catalogue) and ``/api/roles`` (system and custom roles).

Reads need only a signed-in actor; creating, changing and deleting roles needs global
``admin:roles``, and system roles answer 409 to any change (decided in the service).
``DELETE /api/roles/{name}`` answers 409 while the role is bound, unless ``?force=true``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from platform_sdk.core.pagination import Page
from platform_sdk.identity.grants import PermissionOut
from platform_sdk.identity.schemas import RoleCreate, RoleOut, RoleUpdate
from platform_sdk.identity.services import roles as service
from platform_sdk.server.deps import ActorDep, PageDep, PlatformDep, call

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["roles"])

RoleName = Annotated[str, Path(max_length=64, description="Role name")]


@router.get("/permissions", summary="The permission catalogue, with descriptions")
def list_permissions(plat: PlatformDep, actor: ActorDep) -> list[PermissionOut]:
    return call(plat, service.list_permissions, actor=actor)


@router.get("/roles", summary="Roles: system roles first, then by name")
def list_roles(plat: PlatformDep, actor: ActorDep, page: PageDep) -> Page[RoleOut]:
    return call(plat, service.list_roles, actor=actor, page=page)


@router.post("/roles", status_code=201, summary="Create a custom role (admin:roles)")
def create_role(body: RoleCreate, plat: PlatformDep, actor: ActorDep) -> RoleOut:
    return call(plat, service.create_role, actor=actor, body=body)


@router.get("/roles/{name}", summary="One role and its permissions")
def get_role(name: RoleName, plat: PlatformDep, actor: ActorDep) -> RoleOut:
    return call(plat, service.get_role, actor=actor, name=name)


@router.patch("/roles/{name}", summary="Change a custom role's description or permissions")
def update_role(name: RoleName, body: RoleUpdate, plat: PlatformDep, actor: ActorDep) -> RoleOut:
    return call(plat, service.update_role, actor=actor, name=name, body=body)


@router.delete("/roles/{name}", status_code=204, summary="Delete a custom role (admin:roles)")
def delete_role(
    name: RoleName,
    plat: PlatformDep,
    actor: ActorDep,
    force: Annotated[bool, Query(description="Also remove the role's bindings")] = False,
) -> None:
    call(plat, service.delete_role, actor=actor, name=name, force=force)
