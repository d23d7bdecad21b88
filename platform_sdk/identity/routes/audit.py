"""``GET /api/audit``: the audit log, filtered and paged (admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from platform_sdk.core.pagination import Page
from platform_sdk.identity.schemas import AuditOut
from platform_sdk.identity.services import audit as service
from platform_sdk.server.deps import ActorDep, PageDep, PlatformDep, call

__all__ = ["router"]

router = APIRouter(prefix="/api/audit", tags=["audit"])


@router.get("", summary="Audit log, newest first (admin:config)")
def list_audit(
    plat: PlatformDep,
    actor: ActorDep,
    page: PageDep,
    user: Annotated[str | None, Query(max_length=64, description="Actor name")] = None,
    action: Annotated[
        str | None, Query(max_length=64, description="Exact action, or a prefix ending in '.'")
    ] = None,
    target_type: Annotated[str | None, Query(max_length=64)] = None,
    target_id: Annotated[str | None, Query(max_length=64)] = None,
    project: Annotated[str | None, Query(max_length=200, description="owner/name or id")] = None,
    since: Annotated[datetime | None, Query(description="From this time (inclusive)")] = None,
    until: Annotated[datetime | None, Query(description="Before this time")] = None,
) -> Page[AuditOut]:
    return call(
        plat,
        service.list_audit,
        actor=actor,
        page=page,
        user=user,
        action=action,
        target_type=target_type,
        target_id=target_id,
        project=project,
        since=since,
        until=until,
    )
