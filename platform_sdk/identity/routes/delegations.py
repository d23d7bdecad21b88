"""``/api/delegations``: permissions lent from one user to another (often an agent).

``POST`` delegates a permission the actor holds through its own roles; ``DELETE`` revokes (by
the grantor or a global ``admin:roles`` holder) and takes effect at once. ``active`` in each
record and in the ``?active=`` filter means "works now": not revoked, not expired.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from platform_sdk.core.pagination import Page
from platform_sdk.identity.schemas import DelegationCreate, DelegationOut
from platform_sdk.identity.services import delegations as service
from platform_sdk.server.deps import ActorDep, PageDep, PlatformDep, call

__all__ = ["router"]

router = APIRouter(prefix="/api/delegations", tags=["delegations"])


@router.get("", summary="Delegations the actor grants, receives or (admins) all; newest first")
def list_delegations(
    plat: PlatformDep,
    actor: ActorDep,
    page: PageDep,
    grantor: Annotated[str | None, Query(max_length=64, description="Grantor user name")] = None,
    grantee: Annotated[str | None, Query(max_length=64, description="Grantee user name")] = None,
    user: Annotated[
        str | None, Query(max_length=64, description="Grantor or grantee user name")
    ] = None,
    project: Annotated[str | None, Query(max_length=200, description="owner/name or id")] = None,
    active: Annotated[
        bool | None, Query(description="true: only working ones; false: revoked or expired")
    ] = None,
) -> Page[DelegationOut]:
    return call(
        plat,
        service.list_delegations,
        actor=actor,
        page=page,
        grantor=grantor,
        grantee=grantee,
        project=project,
        active=active,
        user=user,
    )


@router.post("", status_code=201, summary="Delegate a permission you hold through your roles")
def create_delegation(body: DelegationCreate, plat: PlatformDep, actor: ActorDep) -> DelegationOut:
    return call(plat, service.create_delegation, actor=actor, body=body)


@router.get("/{delegation_id}", summary="One delegation")
def get_delegation(delegation_id: uuid.UUID, plat: PlatformDep, actor: ActorDep) -> DelegationOut:
    return call(plat, service.get_delegation, actor=actor, delegation_id=delegation_id)


@router.delete("/{delegation_id}", status_code=204, summary="Revoke a delegation, at once")
def revoke_delegation(delegation_id: uuid.UUID, plat: PlatformDep, actor: ActorDep) -> None:
    call(plat, service.revoke_delegation, actor=actor, delegation_id=delegation_id)
