"""``/api/bindings``: who holds which role, globally or in a project.

Global bindings need global ``admin:roles``; project bindings need ``admin:roles`` in that
project; nobody may bind a role stronger than their own in that scope (all decided in the
service). Lists show what the actor may see: everything for global admins, otherwise their own
bindings and those of projects they administer.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from platform_sdk.core.pagination import Page
from platform_sdk.identity.schemas import BindingCreate, BindingOut
from platform_sdk.identity.services import bindings as service
from platform_sdk.server.deps import ActorDep, PageDep, PlatformDep, call

__all__ = ["router"]

router = APIRouter(prefix="/api/bindings", tags=["roles"])


@router.get("", summary="Role bindings the actor may see, newest first")
def list_bindings(
    plat: PlatformDep,
    actor: ActorDep,
    page: PageDep,
    user: Annotated[str | None, Query(max_length=64, description="User name")] = None,
    role: Annotated[str | None, Query(max_length=64, description="Role name")] = None,
    project: Annotated[str | None, Query(max_length=200, description="owner/name or id")] = None,
) -> Page[BindingOut]:
    return call(
        plat, service.list_bindings, actor=actor, page=page, user=user, role=role, project=project
    )


@router.post("", status_code=201, summary="Bind a user to a role, globally or in a project")
def create_binding(body: BindingCreate, plat: PlatformDep, actor: ActorDep) -> BindingOut:
    return call(plat, service.create_binding, actor=actor, body=body)


@router.get("/{binding_id}", summary="One role binding")
def get_binding(binding_id: uuid.UUID, plat: PlatformDep, actor: ActorDep) -> BindingOut:
    return call(plat, service.get_binding, actor=actor, binding_id=binding_id)


@router.delete("/{binding_id}", status_code=204, summary="Remove a role binding")
def delete_binding(binding_id: uuid.UUID, plat: PlatformDep, actor: ActorDep) -> None:
    call(plat, service.delete_binding, actor=actor, binding_id=binding_id)
